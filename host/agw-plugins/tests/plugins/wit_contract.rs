//! The WIT package as plugin authors build against it: every world parses, and the
//! `llm-provider` world has the shape the providers issue asks for (typed records, streaming
//! through a host import, typed errors).

use std::path::PathBuf;

use wit_parser::{Resolve, Type, TypeDefKind, WorldItem, WorldKey};

fn package() -> (Resolve, wit_parser::PackageId) {
    let mut resolve = Resolve::default();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    let (package, _) = resolve.push_dir(&dir).expect("the WIT package parses");
    (resolve, package)
}

/// The names of the interfaces among a world's imports or exports.
fn interface_names<'a>(resolve: &Resolve, items: impl Iterator<Item = (&'a WorldKey, &'a WorldItem)>) -> Vec<String> {
    items
        .filter(|(_, item)| matches!(item, WorldItem::Interface { .. }))
        .map(|(key, _)| resolve.name_world_key(key))
        .collect()
}

#[test]
fn the_llm_provider_world_imports_the_stream_and_exports_typed_chat() {
    let (resolve, package) = package();
    let worlds = &resolve.packages[package].worlds;
    assert!(worlds.contains_key("node-executor") && worlds.contains_key("llm-provider"));
    let world = &resolve.worlds[worlds["llm-provider"]];
    let imports = interface_names(&resolve, world.imports.iter());
    let exports = interface_names(&resolve, world.exports.iter());
    for wanted in ["host", "config", "llm-stream"] {
        assert!(imports.iter().any(|i| i.ends_with(&format!("/{wanted}@0.1.0"))), "imports {imports:?}");
    }
    for wanted in ["plugin", "llm"] {
        assert!(exports.iter().any(|e| e.ends_with(&format!("/{wanted}@0.1.0"))), "exports {exports:?}");
    }

    let llm = resolve.packages[package].interfaces["llm"];
    let functions: Vec<&str> = resolve.interfaces[llm].functions.keys().map(String::as_str).collect();
    assert_eq!(functions, ["providers", "list-models", "chat"]);
    let record = |name: &str| {
        let id = resolve.interfaces[llm].types[name];
        match &resolve.types[id].kind {
            TypeDefKind::Record(record) => record.fields.iter().map(|f| (f.name.clone(), f.ty)).collect::<Vec<_>>(),
            other => panic!("{name} is {other:?}, not a record"),
        }
    };
    let request: Vec<String> = record("chat-request").into_iter().map(|(name, _)| name).collect();
    for field in [
        "model",
        "messages",
        "tools",
        "tool-choice",
        "response-format",
        "temperature",
        "max-tokens",
        "seed",
        "stop",
        "stream",
    ] {
        assert!(request.iter().any(|f| f == field), "chat-request lacks {field}: {request:?}");
    }
    // Fixed shapes are typed: the messages are records, not JSON text.
    let messages = record("chat-request").into_iter().find(|(name, _)| name == "messages").map(|(_, ty)| ty);
    let Some(Type::Id(list)) = messages else { panic!("messages is not a list type") };
    assert!(matches!(resolve.types[list].kind, TypeDefKind::List(Type::Id(_))), "a list of records");
    let error = resolve.interfaces[llm].types["llm-error"];
    let TypeDefKind::Variant(variant) = &resolve.types[error].kind else { panic!("llm-error is a variant") };
    let cases: Vec<&str> = variant.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(cases, ["auth", "rate-limited", "invalid-request", "unavailable", "other"]);
}
