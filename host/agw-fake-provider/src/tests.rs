use super::*;

async fn post(fake: &FakeProvider, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/chat/completions", fake.base_url()))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .expect("send")
}

fn user(text: &str) -> Value {
    json!({"model": "fake-chat", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]})
}

#[tokio::test]
async fn the_same_request_gets_the_same_answer_and_is_logged() {
    let fake = FakeProvider::start().await.expect("start");
    let first: Value = post(&fake, user("hello there")).await.json().await.expect("json");
    let second: Value = post(&fake, user("hello there")).await.json().await.expect("json");
    assert_eq!(first["choices"][0]["message"]["content"], "Fake answer to: hello there");
    assert_eq!(first["choices"][0]["message"], second["choices"][0]["message"]);
    assert_eq!(first["choices"][0]["finish_reason"], "stop");
    assert_eq!(first["usage"], json!({"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}));
    let log = fake.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(log[0].body["messages"][1]["content"], "hello there");

    let models: Value =
        reqwest::get(format!("{}/models", fake.base_url())).await.expect("get").json().await.expect("json");
    let ids: Vec<&str> = models["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, MODELS);
    fake.stop();
}

#[tokio::test]
async fn a_json_schema_answer_fits_the_schema_and_tools_get_a_call() {
    let fake = FakeProvider::start().await.expect("start");
    let mut request = user("give me a person");
    request["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "p", "schema": {
        "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}}, "ok": {"type": ["boolean", "null"]}}}}});
    let answer: Value = post(&fake, request).await.json().await.expect("json");
    let content = answer["choices"][0]["message"]["content"].as_str().expect("text");
    assert_eq!(
        serde_json::from_str::<Value>(content).expect("JSON"),
        json!({"name": "fake", "age": 1, "tags": ["a"], "ok": true})
    );

    let mut request = user("what is the weather");
    request["tools"] = json!([
        {"type": "function", "function": {"name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    ]);
    request["tool_choice"] = json!({"type": "function", "function": {"name": "weather"}});
    let answer: Value = post(&fake, request.clone()).await.json().await.expect("json");
    let choice = &answer["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(
        choice["message"]["tool_calls"][0]["function"],
        json!({"name": "weather", "arguments": "{\"city\":\"fake\"}"})
    );
    request["tool_choice"] = json!("none");
    let answer: Value = post(&fake, request).await.json().await.expect("json");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    fake.stop();
}

#[tokio::test]
async fn a_streamed_answer_is_the_plain_answer_in_chunks() {
    let fake = FakeProvider::start().await.expect("start");
    let mut request = user("stream this please");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let response = post(&fake, request).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.expect("body");
    let frames: Vec<&str> = text.split("\n\n").filter(|f| !f.is_empty()).collect();
    assert_eq!(frames.last(), Some(&"data: [DONE]"));
    let chunks: Vec<Value> = frames[..frames.len() - 1]
        .iter()
        .map(|f| serde_json::from_str(f.strip_prefix("data: ").expect("data frame")).expect("JSON chunk"))
        .collect();
    let joined: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(joined, "Fake answer to: stream this please");
    assert!(chunks.len() > 4, "one chunk per word");
    let last = chunks.last().expect("last");
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["usage"]["completion_tokens"], 6);
    fake.stop();
}

#[tokio::test]
async fn faults_come_from_the_queue_first_then_from_the_model_name() {
    let fake = FakeProvider::start().await.expect("start");
    fake.fail_next(Fault::RateLimited { retry_after_s: 7 });
    fake.fail_next(Fault::Status(500));
    let limited = post(&fake, user("x")).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(post(&fake, user("x")).await.status(), 500);
    assert_eq!(post(&fake, user("x")).await.status(), 200, "the queue is empty again");

    let by_model = |model: &str| {
        let mut request = user("x");
        request["model"] = json!(model);
        request
    };
    let unauthorized = post(&fake, by_model("fake-401")).await;
    assert_eq!(unauthorized.status(), 401);
    let body: Value = unauthorized.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(post(&fake, by_model("fake-429")).await.headers()["retry-after"], "1");
    let truncated = post(&fake, by_model("fake-truncated")).await.text().await.expect("body");
    assert!(serde_json::from_str::<Value>(&truncated).is_err(), "half an answer: {truncated}");
    assert_eq!(post(&fake, by_model("fake-slow-10")).await.status(), 200);
    let mut streamed = by_model("fake-truncated");
    streamed["stream"] = json!(true);
    let text = post(&fake, streamed).await.text().await.expect("body");
    assert!(!text.contains("[DONE]"), "a cut stream never says it is done");
    fake.stop();
}
