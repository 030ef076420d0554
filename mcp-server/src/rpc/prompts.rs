//! Prompts (`code_review`, `explain_concept`) and `completion/complete` for their arguments
//! and for the `file:///{path}` template (checklist PR-36, PR-37).

use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{State, invalid_params, parse, resources};

const LANGUAGES: &[&str] = &[
    "c",
    "cpp",
    "go",
    "java",
    "javascript",
    "python",
    "rust",
    "typescript",
];
const LEVELS: &[&str] = &["beginner", "intermediate", "expert"];

pub(crate) fn definitions() -> Vec<Value> {
    vec![
        json!({
            "name": "code_review",
            "title": "Code review",
            "description": "Asks for a review of a piece of code.",
            "arguments": [
                {"name": "code", "description": "The code to review", "required": true},
                {"name": "language", "description": "Programming language", "required": false}
            ]
        }),
        json!({
            "name": "explain_concept",
            "title": "Explain a concept",
            "description": "Asks for an explanation of a concept at a chosen level.",
            "arguments": [
                {"name": "concept", "description": "The concept", "required": true},
                {"name": "level", "description": "beginner, intermediate or expert", "required": false}
            ]
        }),
    ]
}

#[derive(Deserialize)]
struct GetParams {
    name: String,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
}

fn arg<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

fn user(text: String) -> Value {
    json!({"role": "user", "content": {"type": "text", "text": text}})
}

/// `prompts/get`: unknown names and missing required arguments get -32602.
pub(crate) fn get(p: &Params<'_>) -> Result<Value, ErrorObjectOwned> {
    let gp: GetParams = parse(p)?;
    let args = gp.arguments.unwrap_or_default();
    match gp.name.as_str() {
        "code_review" => {
            let code = arg(&args, "code")
                .ok_or_else(|| invalid_params("missing required argument: code"))?;
            let lang = arg(&args, "language").unwrap_or("the given language");
            Ok(json!({
                "description": "Code review",
                "messages": [user(format!(
                    "Please review this code written in {lang}. Point out bugs, security problems and unclear parts:\n\n{code}"
                ))]
            }))
        }
        "explain_concept" => {
            let concept = arg(&args, "concept")
                .ok_or_else(|| invalid_params("missing required argument: concept"))?;
            let level = arg(&args, "level").unwrap_or("intermediate");
            if !LEVELS.contains(&level) {
                return Err(invalid_params(
                    "level must be beginner, intermediate or expert",
                ));
            }
            Ok(json!({
                "description": "Concept explanation",
                "messages": [user(format!("Explain {concept} to a reader at the {level} level."))]
            }))
        }
        _ => Err(invalid_params("unknown prompt")),
    }
}

#[derive(Deserialize)]
struct CompleteParams {
    #[serde(rename = "ref")]
    reference: Value,
    argument: CompleteArg,
}

#[derive(Deserialize)]
struct CompleteArg {
    name: String,
    value: String,
}

/// `completion/complete`.
pub(crate) async fn complete(st: &State, p: &Params<'_>) -> Result<Value, ErrorObjectOwned> {
    let cp: CompleteParams = parse(p)?;
    let kind = cp.reference.get("type").and_then(Value::as_str);
    let prefix = cp.argument.value.as_str();
    let candidates: Vec<String> = match (kind, cp.argument.name.as_str()) {
        (Some("ref/prompt"), "language")
            if cp.reference.get("name").and_then(Value::as_str) == Some("code_review") =>
        {
            LANGUAGES.iter().map(|s| (*s).to_owned()).collect()
        }
        (Some("ref/prompt"), "level")
            if cp.reference.get("name").and_then(Value::as_str) == Some("explain_concept") =>
        {
            LEVELS.iter().map(|s| (*s).to_owned()).collect()
        }
        (Some("ref/resource"), "path")
            if cp.reference.get("uri").and_then(Value::as_str) == Some("file:///{path}") =>
        {
            resources::file_names(st).await
        }
        (Some("ref/prompt" | "ref/resource"), _) => Vec::new(),
        _ => return Err(invalid_params("invalid ref")),
    };
    let matched: Vec<&String> = candidates
        .iter()
        .filter(|c| c.starts_with(prefix))
        .collect();
    let total = matched.len();
    let values: Vec<&String> = matched.into_iter().take(100).collect();
    Ok(json!({"completion": {"values": values, "total": total, "hasMore": total > 100}}))
}
