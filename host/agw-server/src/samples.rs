//! The sample bundles shipped inside the binary, served when no flows directory is set.

/// (file name, packed bundle) for each bundle in the repository's `flows/`.
pub const SAMPLES: &[(&str, &[u8])] = &[
    ("branch@0.1.0.flow", include_bytes!("../../../flows/branch@0.1.0.flow")),
    ("count-loop@0.1.0.flow", include_bytes!("../../../flows/count-loop@0.1.0.flow")),
    ("math-basics@0.1.0.flow", include_bytes!("../../../flows/math-basics@0.1.0.flow")),
    ("text-tools@0.1.0.flow", include_bytes!("../../../flows/text-tools@0.1.0.flow")),
    ("while-seq@0.1.0.flow", include_bytes!("../../../flows/while-seq@0.1.0.flow")),
];
