//! Body caveats with the real SDKs, through HTTPS_PROXY with only the token: the Stripe
//! SDK creating a PaymentIntent (a form body) within and over its bound, and the OpenAI SDK
//! asking for an allowed and a refused model (a JSON body).

use crate::ca::after_eval_ca;
use crate::world::*;

#[test]
fn stripe_payment_intents_within_the_bound_go_through_and_over_it_are_refused() {
    if let Some(why) = e2e::missing_python(&["stripe"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.stripe.com", "bearer", &[]);
    let token = w.narrow(&[
        "--method",
        "POST",
        "--path",
        "/v1/payment_intents",
        "--form",
        "amount <= 5000",
        "--form",
        "currency = usd",
    ]);
    let run = after_eval_ca(
        &w,
        &[("STRIPE_API_KEY", &token)],
        r#"python3 -c '
import os, stripe
stripe.api_key = os.environ["STRIPE_API_KEY"]
stripe.PaymentIntent.create(amount=5000, currency="usd", metadata={"order": "6735"})
print("created")
try:
    stripe.PaymentIntent.create(amount=5001, currency="usd")
except stripe.error.PermissionError as e:
    print("refused:", e.user_message)
'"#,
    );
    run.ok();
    let out = run.out();
    assert!(out.starts_with("created\nrefused: "), "{out}");
    assert!(out.contains("amount") && out.contains("5000"), "{out}");
    let seen = w.up.seen();
    assert_eq!(seen.len(), 1, "only the allowed PaymentIntent reached Stripe");
    let body = String::from_utf8_lossy(&seen[0].body).to_string();
    assert!(
        body.contains("amount=5000") && body.contains("currency=usd"),
        "{body}"
    );
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    w.assert_clean(1);
}

#[test]
fn openai_chat_with_an_allowed_model_goes_through_and_another_is_refused() {
    if let Some(why) = e2e::missing_python(&["openai"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.openai.com", "bearer", &[]);
    let token = w.narrow(&[
        "--path",
        "/v1/chat/completions",
        "--json",
        "/model in gpt-4o-mini gpt-4.1-mini",
        "--json",
        "/max_tokens <= 100",
    ]);
    let run = after_eval_ca(
        &w,
        &[("OPENAI_API_KEY", &token)],
        r#"python3 -c '
import openai
client = openai.OpenAI()
msgs = [{"role": "user", "content": "hi"}]
client.chat.completions.create(model="gpt-4o-mini", messages=msgs, max_tokens=50)
print("answered")
try:
    client.chat.completions.create(model="gpt-4o", messages=msgs, max_tokens=50)
except openai.PermissionDeniedError as e:
    print("refused:", e.message)
'"#,
    );
    run.ok();
    let out = run.out();
    assert!(out.starts_with("answered\nrefused: "), "{out}");
    assert!(out.contains("gpt-4o-mini"), "{out}");
    let seen = w.up.seen();
    assert_eq!(seen.len(), 1, "only the allowed model reached OpenAI");
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).expect("JSON body");
    assert_eq!(body["model"], "gpt-4o-mini");
    w.assert_clean(1);
}
