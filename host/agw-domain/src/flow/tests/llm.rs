//! `llm_call`: the request its pins make, its journal records, structured output, and the
//! checkpoint right after the call.

use super::*;
use crate::llm::{CallRef, ChatAnswer, ChatRequest, Usage};

/// Answers every call with `answer`, remembering the requests.
struct FakeLlm {
    answer: String,
    requests: Vec<(CallRef, ChatRequest)>,
}

impl NodeExecutor for FakeLlm {
    fn execute(&mut self, _: NodeCall<'_>) -> Result<Map<String, Value>, NodeFailure> {
        Err(NodeFailure { message: "no plugin nodes here".into() })
    }

    fn llm(&mut self, call: &CallRef, request: &ChatRequest) -> Result<ChatAnswer, NodeFailure> {
        self.requests.push((call.clone(), request.clone()));
        Ok(ChatAnswer {
            provider: request.provider.clone().unwrap_or_else(|| "default-provider".into()),
            model: request.model.clone().unwrap_or_else(|| "default-model".into()),
            text: self.answer.clone(),
            tool_calls: Vec::new(),
            finish_reason: "stop".into(),
            usage: Some(Usage { input_tokens: 3, output_tokens: 2, total_tokens: 5 }),
            plugin: json!({"name": "fake-llm", "version": "1", "sha256": "cd34"}),
            attempts: 1,
            elapsed_ms: 5.0,
            ttft_ms: None,
        })
    }
}

fn llm_flow(resp_schema: Option<Value>) -> Value {
    let mut llm = node(
        "llm",
        "llm_call",
        &[">", "prompt:string", "system:string", "temperature:number", "seed:number", "resp_schema:object"],
        &[">", "response", "success", "meta", "tool_calls"],
        json!({"system": "Be brief."}),
    );
    llm["data"]["effectConfig"] = json!({"provider": "lmstudio", "model": "m1"});
    if let Some(schema) = resp_schema {
        llm["data"]["pinDefaults"]["resp_schema"] = schema;
    }
    flow(
        vec![
            node("start", "on_flow_start", &[], &[">", "prompt"], json!({})),
            llm,
            node("end", "on_flow_end", &[">", "response"], &[], json!({})),
        ],
        vec![
            edge("start", "llm"),
            edge("start.prompt", "llm.prompt"),
            edge("llm", "end"),
            edge("llm.response", "end.response"),
        ],
    )
}

fn run_llm(flow_json: &Value, input: Value, answer: &str) -> (RunState, FakeLlm, Vec<TickOutcome>) {
    let compiled = CompiledFlow::compile(flow_json, &provides).expect("compiles");
    let env = FakeEnv::default();
    let mut run = new_run(&compiled, input, &env);
    let mut llm = FakeLlm { answer: answer.into(), requests: Vec::new() };
    let mut outcomes = Vec::new();
    loop {
        let outcome = tick(&compiled, &mut run, &mut llm, &env, TickLimits::default());
        outcomes.push(outcome);
        if outcome != TickOutcome::Yielded || outcomes.len() > 10 {
            break;
        }
    }
    (run, llm, outcomes)
}

#[test]
fn the_pins_make_the_request_and_the_step_is_journaled_then_checkpointed() {
    let (run, llm, outcomes) = run_llm(&llm_flow(None), json!({"prompt": 42, "_runtime": {"stream": true}}), "Hi");
    assert_eq!(run.status, RunStatus::Completed);
    // One tick journals `started` and ends; the next calls, journals the answer and ends.
    assert_eq!(outcomes, [TickOutcome::Yielded, TickOutcome::Yielded, TickOutcome::Finished(RunStatus::Completed)]);
    let [(call, request)] = llm.requests.as_slice() else { panic!("one call: {:?}", llm.requests) };
    assert_eq!((call.run_id.as_str(), call.node_id.as_str()), ("r1", "llm"));
    assert_eq!((request.provider.as_deref(), request.model.as_deref()), (Some("lmstudio"), Some("m1")));
    let messages: Vec<(&str, &str)> = request.messages.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect();
    // As the reference: the grounding note after the system prompt, the time envelope before
    // the prompt, and a numeric prompt written as Python's `str()` would.
    assert_eq!(messages.len(), 2);
    assert!(messages[0].1.starts_with("Be brief.\n\nRUNTIME GROUNDING: "), "{messages:?}");
    assert!(messages[1].1.starts_with("<runtime_metadata>{\"display\":\"["), "{messages:?}");
    assert!(messages[1].1.ends_with("</runtime_metadata>\n42"), "{messages:?}");
    assert_eq!(request.temperature, Some(0.7));
    assert!(request.stream);

    assert_eq!(run.output.as_ref().and_then(|o| o.get("response")), Some(&json!("Hi")));
    let effects: Vec<(&str, Value)> = run
        .outbox
        .iter()
        .filter_map(|r| Some((r.effect.as_ref()?.kind.as_str(), serde_json::to_value(r.status).ok()?)))
        .collect();
    assert_eq!(effects[..2], [("llm_call", json!("started")), ("llm_call", json!("completed"))]);
    let (started, done) = (&run.outbox[0], &run.outbox[1]);
    assert_eq!(started.step_id, call.call_id, "live frames name the step they belong to");
    let payload = &done.effect.as_ref().expect("effect").payload;
    assert!(payload["prompt"].as_str().unwrap_or_default().ends_with("\n42"), "{payload}");
    assert_eq!(payload["system_prompt"], "Be brief.");
    assert_eq!(payload["provider"], "lmstudio");
    assert_eq!(payload["plugin"]["name"], "fake-llm");
    let result = done.result.as_ref().expect("result");
    assert_eq!(result["content"], "Hi");
    assert_eq!(result["usage"]["total_tokens"], 5);
    assert_eq!(result["finish_reason"], "stop");
}

#[test]
fn structured_output_is_parsed_and_a_mismatch_fails_the_step_clearly() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
    let (run, llm, _) = run_llm(&llm_flow(Some(schema.clone())), json!({"prompt": "q"}), "{\"answer\": \"yes\"}");
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(llm.requests[0].1.response_schema.as_ref(), Some(&schema));
    // The node answers the structured value as compact JSON text, as the reference does.
    assert_eq!(run.output.as_ref().and_then(|o| o.get("response")), Some(&json!("{\"answer\":\"yes\"}")));

    let (run, _, _) = run_llm(&llm_flow(Some(schema)), json!({"prompt": "q"}), "{\"answer\": 3}");
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.clone().unwrap_or_default();
    assert!(error.contains("llm_call node 'llm'") && error.contains("does not match resp_schema"), "{error}");
    let statuses: Vec<Value> = run.outbox.iter().map(|r| serde_json::to_value(r.status).unwrap_or_default()).collect();
    // `started` once (journaled by the first tick), then `failed` under the same step.
    assert_eq!(statuses[..2], [json!("started"), json!("failed")]);
    assert_eq!(run.outbox[0].step_id, run.outbox[1].step_id);
}

#[test]
fn without_a_provider_the_default_executor_names_what_is_missing() {
    let compiled = CompiledFlow::compile(&llm_flow(None), &provides).expect("compiles");
    let (run, _) = {
        let env = FakeEnv::default();
        let mut run = new_run(&compiled, json!({"prompt": "hi"}), &env);
        let mut nodes = FakeNodes { calls: 0 };
        while tick(&compiled, &mut run, &mut nodes, &env, TickLimits::default()) == TickOutcome::Yielded {}
        (run, ())
    };
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.clone().unwrap_or_default().contains("no LLM provider plugin is loaded"), "{:?}", run.error);
}
