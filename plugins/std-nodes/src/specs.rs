//! Node specs: the reference editor's pin ids and kinds.

use abstractgateway_sdk::NodeSpec;

fn pure(node_type: &str, category: &str, inputs: &[(&str, &str)], out_kind: &str, about: &str) -> NodeSpec {
    let spec = NodeSpec::pure(node_type, category).description(about);
    inputs.iter().fold(spec, |s, (id, kind)| s.input(id, kind)).output("result", out_kind)
}

const AB_NUM: &[(&str, &str)] = &[("a", "number"), ("b", "number")];
const AB_ANY: &[(&str, &str)] = &[("a", "any"), ("b", "any")];
const TEXT: &[(&str, &str)] = &[("text", "string")];
const MIN_MAX: &[(&str, &str)] = &[("min", "number"), ("max", "number")];

pub fn all() -> Vec<NodeSpec> {
    vec![
        pure("add", "math", AB_NUM, "number", "a + b"),
        pure("subtract", "math", AB_NUM, "number", "a - b"),
        pure("multiply", "math", AB_NUM, "number", "a * b"),
        pure("divide", "math", AB_NUM, "number", "a / b; fails when b is 0"),
        pure("modulo", "math", AB_NUM, "number", "a % b with the divisor's sign; fails when b is 0"),
        pure("power", "math", &[("base", "number"), ("exp", "number")], "number", "base ** exp"),
        pure("abs", "math", &[("value", "number")], "number", "Absolute value"),
        pure("round", "math", &[("value", "number"), ("decimals", "number")], "number", "Round half to even"),
        pure("random_int", "math", MIN_MAX, "number", "Random integer in [min, max]"),
        pure("random_float", "math", MIN_MAX, "number", "Random float in [min, max]"),
        pure(
            "concat",
            "string",
            &[("a", "string"), ("b", "string")],
            "string",
            "Inputs joined by concatConfig.separator (default one space)",
        ),
        pure(
            "split",
            "string",
            &[("text", "string"), ("delimiter", "string")],
            "array",
            "Split, trimming parts and dropping empty ones",
        ),
        pure("join", "string", &[("items", "array"), ("delimiter", "string")], "string", "Join items with a delimiter"),
        pure(
            "format",
            "string",
            &[("template", "string"), ("values", "object")],
            "string",
            "Python str.format with named fields",
        ),
        pure(
            "string_template",
            "string",
            &[("template", "string"), ("vars", "object")],
            "string",
            "Render {{path | filter}} placeholders",
        ),
        pure("uppercase", "string", TEXT, "string", "Upper case"),
        pure("lowercase", "string", TEXT, "string", "Lower case"),
        pure("trim", "string", TEXT, "string", "Strip surrounding whitespace"),
        pure(
            "substring",
            "string",
            &[("text", "string"), ("start", "number"), ("end", "number")],
            "string",
            "Python slice text[start:end]",
        ),
        pure("length", "string", TEXT, "number", "Number of characters"),
        pure("is_empty_string", "string", TEXT, "boolean", "True when text is exactly empty"),
        pure(
            "contains",
            "string",
            &[("text", "string"), ("pattern", "string")],
            "boolean",
            "Substring test; an empty pattern is false",
        ),
        pure(
            "replace",
            "string",
            &[("text", "string"), ("pattern", "string"), ("replacement", "string")],
            "string",
            "Replace occurrences (mode: all, first or a count)",
        ),
        pure(
            "compare",
            "logic",
            &[("a", "any"), ("op", "string"), ("b", "any")],
            "boolean",
            "Compare a and b with op (== != < <= > >=)",
        ),
        pure("not", "logic", &[("value", "boolean")], "boolean", "Logical not"),
        pure("and", "logic", &[("a", "boolean"), ("b", "boolean")], "boolean", "Logical and"),
        pure("or", "logic", &[("a", "boolean"), ("b", "boolean")], "boolean", "Logical or"),
        pure("coalesce", "logic", AB_ANY, "any", "First non-null input in pin order"),
    ]
}
