/// The body of an `/api/*` answer that refuses a request (status 4xx or 5xx): words for
/// people, and, when the refusal is a rate limit (status 429), how many seconds to wait
/// (the `Retry-After` header says the same).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiRefusal {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}
