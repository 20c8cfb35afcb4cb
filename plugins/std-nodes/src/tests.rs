//! Checks every vector in `vectors.json` and `data-vectors.json` (generated from the
//! reference by `tools/gen_vectors.py` and `tools/gen_data_vectors.py`). Run natively:
//! `cargo test --target x86_64-unknown-linux-gnu -p std-nodes` from `plugins/`.

use serde_json::{Map, Value, json};

use crate::execute;

fn check(vector: &Value) -> Result<(), String> {
    let node_type = vector["node_type"].as_str().ok_or("vector without node_type")?;
    let empty = Map::new();
    let inputs = vector["inputs"].as_object().unwrap_or(&empty);
    let config = &vector["config"];
    let got = execute(node_type, inputs, config);
    if vector.get("expect_error").is_some_and(|e| e == true) {
        return match got {
            Err(_) => Ok(()),
            Ok(v) => Err(format!("expected an error, got {v}")),
        };
    }
    let got = got.map_err(|e| format!("unexpected error {e:?}"))?;
    if let Some(expect) = vector.get("expect") {
        // Compare the text too: Value equality says 0.0 == -0.0.
        let text = |v: &Value| serde_json::to_string(v).unwrap_or_default();
        if &got != expect || text(&got) != text(expect) {
            return Err(format!("expected {expect}, got {got}"));
        }
        return Ok(());
    }
    if let Some(choices) = vector.get("expect_one_of").and_then(Value::as_array) {
        for _ in 0..50 {
            let again = execute(node_type, inputs, config).map_err(|e| format!("{e:?}"))?;
            if again["found"] != true || !choices.contains(&again["result"]) {
                return Err(format!("{again} is not one of {choices:?}"));
            }
        }
        return Ok(());
    }
    let range = vector["expect_range"].as_array().ok_or("vector without expectation")?;
    let (lo, hi) = (range[0].as_f64().unwrap_or(0.0), range[1].as_f64().unwrap_or(0.0));
    let want_int = vector["expect_kind"] == "int";
    for _ in 0..200 {
        let again = execute(node_type, inputs, config).map_err(|e| format!("{e:?}"))?;
        let n = again["result"].as_number().ok_or("result is not a number")?;
        let x = n.as_f64().unwrap_or(f64::NAN);
        if !(lo <= x && x <= hi) || n.is_f64() == want_int {
            return Err(format!("{n} outside [{lo}, {hi}] or wrong kind"));
        }
    }
    Ok(())
}

fn check_all(text: &str, at_least: usize) {
    let vectors: Vec<Value> = serde_json::from_str(text).expect("vectors are a JSON list");
    assert!(vectors.len() >= at_least, "only {} vectors", vectors.len());
    let failures: Vec<String> = vectors
        .iter()
        .enumerate()
        .filter_map(|(i, v)| check(v).err().map(|e| format!("#{i} {} {}: {e}", v["node_type"], v["inputs"])))
        .collect();
    assert!(failures.is_empty(), "{} of {} vectors fail:\n{}", failures.len(), vectors.len(), failures.join("\n"));
}

#[test]
fn reference_vectors() {
    check_all(include_str!("../vectors.json"), 150);
}

#[test]
fn reference_data_vectors() {
    check_all(include_str!("../data-vectors.json"), 800);
}

#[test]
fn random_int_spans_both_ends() {
    let inputs: Map<String, Value> = serde_json::from_str(r#"{"min": 1, "max": 2}"#).unwrap_or_default();
    let seen: Vec<i64> = (0..200)
        .filter_map(|_| execute("random_int", &inputs, &Value::Null).ok())
        .filter_map(|v| v["result"].as_i64())
        .collect();
    assert!(seen.contains(&1) && seen.contains(&2));
}

#[test]
fn specs_cover_dispatch() {
    for spec in crate::specs::all() {
        let name = format!("{spec:?}");
        assert!(!name.contains("unknown"), "{name}");
    }
}

/// Every node, every declared pin, odd values: nodes answer or fail, never panic.
#[test]
fn odd_inputs_never_panic() {
    let odd: Vec<Value> = serde_json::from_str(
        r#"[null, true, 0, -1, 1.5e300, -0.0, 18446744073709551615, "", " ", "x", "{", "[[[", "(((",
            "'unterminated", "\\", "0x", "1e", "1_", "{'a': [1, (2,), {3: 4}]}", "é😀", "```",
            [], [null], [[1, 2], "ab", {"p": 1, "q": 2}], {}, {"a": {"b": [1]}}]"#,
    )
    .unwrap_or_default();
    let configs = [
        Value::Null,
        serde_json::json!({"inputs": "junk", "breakConfig": {"selectedPaths": 5}, "literalValue": 7}),
        serde_json::json!({"inputs": [{"id": "a"}, {"id": "in0"}], "breakConfig": {"selectedPaths": ["a.b", "0"]},
                           "toolParametersConfig": {"tool": ["x"]}, "literalValue": {"required": 3}}),
    ];
    let mut pins_seen = 0;
    for spec in crate::specs::all() {
        let text = format!("{spec:?}");
        let node_type = text.split('"').nth(1).unwrap_or_default().to_owned();
        let pins: Vec<String> = text
            .split("inputs: [")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .map(|list| list.split("(\"").skip(1).filter_map(|p| p.split('"').next()).map(str::to_owned).collect())
            .unwrap_or_default();
        pins_seen += pins.len();
        for config in &configs {
            for value in &odd {
                let mut inputs = Map::new();
                for pin in &pins {
                    inputs.insert(pin.clone(), value.clone());
                }
                let _ = execute(&node_type, &inputs, config);
                let _ = execute(&node_type, &Map::new(), config);
            }
        }
    }
    assert!(pins_seen > 80, "only {pins_seen} pins read from the specs");
    // Deep nesting stays within the parsers' limits instead of exhausting the stack.
    for text in ["[".repeat(100_000), "(".repeat(100_000), "{'a':".repeat(50_000), "-".repeat(10_000) + "1"] {
        let inputs: Map<String, Value> = [("text".to_owned(), Value::String(text))].into_iter().collect();
        assert!(execute("parse_json", &inputs, &Value::Null).is_err());
    }
}

/// `add_message` without execution pins: the reference's message shape, with a fresh time and
/// a fresh `msg_<uuid4 hex>` id (so no vector can hold it).
#[test]
fn add_message_builds_a_canonical_message() {
    let inputs: Map<String, Value> =
        serde_json::from_str(r#"{"role": 5, "content": {"a": [1, null]}}"#).unwrap_or_default();
    let out = execute("add_message", &inputs, &Value::Null).expect("add_message answers");
    let message = &out["message"];
    assert_eq!((&message["role"], &message["content"]), (&Value::from("5"), &Value::from("{'a': [1, None]}")));
    let stamp = message["timestamp"].as_str().unwrap_or_default();
    assert!(stamp.ends_with("+00:00") && stamp.len() >= 25 && stamp.as_bytes()[10] == b'T', "{stamp}");
    let id = message["metadata"]["message_id"].as_str().unwrap_or_default();
    let hex = id.strip_prefix("msg_").unwrap_or_default();
    assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
    assert_eq!(&hex[12..13], "4", "a version 4 uuid: {id}");
    assert!("89ab".contains(&hex[16..17]), "the RFC 4122 variant: {id}");
    let other = execute("add_message", &Map::new(), &Value::Null).expect("add_message answers");
    assert_eq!((&other["message"]["role"], &other["message"]["content"]), (&Value::from("user"), &Value::from("")));
    assert_ne!(other["message"]["metadata"], message["metadata"]);
    assert_eq!(out["result"], json!({"message": message.clone()}));
}

/// `system_datetime`: now, in UTC (a plugin sees no local zone or locale).
#[test]
fn system_datetime_reports_utc_now() {
    let out = execute("system_datetime", &Map::new(), &Value::Null).expect("system_datetime answers");
    assert_eq!((&out["timezone"], &out["utc_offset_minutes"], &out["locale"]), (&json!("UTC"), &json!(0), &json!("")));
    let iso = out["iso"].as_str().unwrap_or_default();
    assert!(iso.starts_with("20") && iso.ends_with("+00:00"), "{iso}");
}
