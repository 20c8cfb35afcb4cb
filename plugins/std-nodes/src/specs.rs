//! Node specs: the reference editor's pin ids and kinds.

use abstractgateway_sdk::NodeSpec;

fn pure(node_type: &str, category: &str, inputs: &[(&str, &str)], out_kind: &str, about: &str) -> NodeSpec {
    let spec = NodeSpec::pure(node_type, category).description(about);
    inputs.iter().fold(spec, |s, (id, kind)| s.input(id, kind)).output("result", out_kind)
}

/// A pure node with any outputs (`break_object`'s outputs are the selected paths, so none
/// are fixed).
fn node(node_type: &str, category: &str, inputs: &[(&str, &str)], outputs: &[(&str, &str)], about: &str) -> NodeSpec {
    let spec = NodeSpec::pure(node_type, category).description(about);
    let spec = inputs.iter().fold(spec, |s, (id, kind)| s.input(id, kind));
    outputs.iter().fold(spec, |s, (id, kind)| s.output(id, kind))
}

const AB_NUM: &[(&str, &str)] = &[("a", "number"), ("b", "number")];
const AB_ANY: &[(&str, &str)] = &[("a", "any"), ("b", "any")];
const TEXT: &[(&str, &str)] = &[("text", "string")];
const MIN_MAX: &[(&str, &str)] = &[("min", "number"), ("max", "number")];

/// Every node type the plugin provides.
pub fn all() -> Vec<NodeSpec> {
    let mut specs = vec![
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
    ];
    specs.extend(data());
    specs.extend(agent());
    specs
}

const ARRAY: &[(&str, &str)] = &[("array", "array")];
const FOUND: &[(&str, &str)] = &[("result", "any"), ("found", "boolean")];

fn data() -> Vec<NodeSpec> {
    vec![
        node(
            "get",
            "data",
            &[("object", "object"), ("key", "string"), ("default", "any")],
            &[("value", "any")],
            "Value at a dotted/bracket path (a.b[0]); default when missing or null",
        ),
        pure(
            "set",
            "data",
            &[("object", "object"), ("key", "string"), ("value", "any")],
            "object",
            "Copy of object with a dotted path set",
        ),
        pure("merge", "data", &[("a", "object"), ("b", "object")], "object", "Shallow merge, b wins"),
        pure("make_object", "data", &[], "object", "An object of the node's input pins"),
        node(
            "break_object",
            "data",
            &[("object", "object")],
            &[],
            "One output per breakConfig.selectedPaths entry (JSON-ish text is parsed first)",
        ),
        node(
            "edit_json_schema",
            "data",
            &[("schema", "object")],
            &[("schema", "object")],
            "Add the authored fields (literalValue) to a JSON Schema without changing existing ones",
        ),
        node(
            "path_mux",
            "data",
            &[("select", "number"), ("in0", "any"), ("in1", "any"), ("fallback", "any")],
            &[("out", "any")],
            "Input in<select>, else fallback",
        ),
        pure("make_array", "data", AB_ANY, "array", "The non-null inputs in pin order"),
        pure(
            "array_concat",
            "data",
            &[("a", "array"), ("b", "array")],
            "array",
            "The inputs in pin order, arrays spliced in",
        ),
        pure("array_map", "data", &[("items", "array"), ("key", "string")], "array", "Each object's key"),
        pure(
            "array_filter",
            "data",
            &[("items", "array"), ("key", "string"), ("value", "any")],
            "array",
            "Items (or their key) equal to value",
        ),
        pure("array_length", "data", ARRAY, "number", "Length; 0 for a non-array"),
        pure("has_tools", "data", ARRAY, "boolean", "True when the array is non-empty"),
        pure("array_append", "data", &[("array", "array"), ("item", "any")], "array", "Copy with item appended"),
        pure(
            "array_dedup",
            "data",
            &[("array", "array"), ("key", "string")],
            "array",
            "Stable dedup, by a key path when given",
        ),
        node(
            "get_element",
            "data",
            &[("array", "array"), ("index", "number"), ("default", "any")],
            FOUND,
            "Element at index (negative from the end), else default",
        ),
        node(
            "get_random_element",
            "data",
            &[("array", "array"), ("default", "any")],
            FOUND,
            "A random element, else default",
        ),
        pure(
            "parse_json",
            "data",
            &[("text", "string"), ("wrap_scalar", "boolean")],
            "any",
            "JSON or JSON-ish text to a value; scalars as {value}",
        ),
        node(
            "system_datetime",
            "data",
            &[],
            &[("iso", "string"), ("timezone", "string"), ("utc_offset_minutes", "number"), ("locale", "string")],
            "The current time (ISO 8601, UTC: a plugin sees no local zone or locale)",
        ),
        pure(
            "stringify_json",
            "data",
            &[("value", "any"), ("mode", "string"), ("indent", "number"), ("sort_keys", "boolean")],
            "string",
            "Render a value (or JSON-ish text) as JSON: none, beautify or minified",
        ),
    ]
}

fn agent() -> Vec<NodeSpec> {
    vec![
        node(
            "make_context",
            "agent",
            &[("task", "string"), ("messages", "array"), ("context_extra", "object")],
            &[("context", "object")],
            "A context object {task, messages, ...context_extra}",
        ),
        node(
            "make_meta",
            "agent",
            &[
                ("schema", "string"),
                ("version", "number"),
                ("output_mode", "string"),
                ("provider", "string"),
                ("model", "string"),
                ("sub_run_id", "string"),
                ("iterations", "number"),
                ("tool_calls", "number"),
                ("tool_results", "number"),
                ("finish_reason", "string"),
                ("gen_time", "number"),
                ("ttft_ms", "number"),
                ("usage", "object"),
                ("trace", "object"),
                ("trace_id", "string"),
                ("warnings", "array"),
                ("debug", "any"),
                ("extra", "object"),
            ],
            &[("meta", "object")],
            "A host-facing meta envelope",
        ),
        node(
            "make_scratchpad",
            "agent",
            &[
                ("sub_run_id", "string"),
                ("workflow_id", "string"),
                ("task", "string"),
                ("messages", "array"),
                ("context_extra", "object"),
                ("node_traces", "object"),
                ("steps", "array"),
                ("tool_calls", "array"),
                ("tool_results", "array"),
            ],
            &[("scratchpad", "object")],
            "A scratchpad/trace envelope",
        ),
        pure(
            "format_tool_results",
            "agent",
            &[("tool_results", "array")],
            "string",
            "One line per tool call: name(primary arg) [STATUS] : observation",
        ),
        pure(
            "agent_trace_report",
            "agent",
            &[("scratchpad", "object")],
            "string",
            "An agent scratchpad's node traces as a Markdown timeline",
        ),
        node(
            "add_message",
            "agent",
            &[("role", "string"), ("content", "string")],
            &[("message", "object")],
            "A context message {role, content, timestamp, metadata.message_id}",
        ),
        node("tools_allowlist", "agent", &[], &[("tools", "tools")], "The tools chosen in the editor (literalValue)"),
        node(
            "tool_parameters",
            "agent",
            &[],
            &[("tool_call", "object")],
            "Parameter pins passed through, and a tool_call {name, arguments}",
        ),
    ]
}
