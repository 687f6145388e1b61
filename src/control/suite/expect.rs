//! Expected outcomes: `figure = rule` in a scenario's `[expect]` table. A
//! rule is a number (`divergence = 0`), a comparison in a string
//! (`lost-update = ">0"`, `"<=5"`, `">=1"`, `"!=0"`), or a word for the
//! verdict (`verdict = "valid"`) and a boolean for `quiesced`.

use std::fmt;

use diverge_checkers::AnomalyKind;

use crate::results::Figures;

/// What a scenario can set an expectation on.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// The count of one anomaly kind, by its name (`lost-update`, ...).
    Anomaly(String),
    Verdict,
    Quiesced,
    /// A number from [`Figures`], by its kebab-case name.
    Number(&'static str),
}

/// The numeric figures besides anomaly counts.
const NUMBERS: [&str; 12] = [
    "ops",
    "acknowledged-writes",
    "divergent-keys",
    "causal-violations",
    "siblings",
    "availability",
    "latency-p99-ms",
    "convergence-s",
    "never-replicated",
    "never-replicated-pct",
    "skipped-updates",
    "resolutions",
];

impl Figure {
    pub fn parse(name: &str) -> Result<Figure, String> {
        if name == "verdict" {
            return Ok(Figure::Verdict);
        }
        if name == "quiesced" {
            return Ok(Figure::Quiesced);
        }
        if AnomalyKind::all().iter().any(|k| k.name() == name) {
            return Ok(Figure::Anomaly(name.to_string()));
        }
        if let Some(n) = NUMBERS.iter().find(|n| **n == name) {
            return Ok(Figure::Number(n));
        }
        let kinds: Vec<&str> = AnomalyKind::all().iter().map(|k| k.name()).collect();
        Err(format!(
            "unknown figure; expected an anomaly kind ({}), verdict, quiesced, or one of {}",
            kinds.join(", "),
            NUMBERS.join(", ")
        ))
    }

    pub fn name(&self) -> String {
        match self {
            Figure::Anomaly(kind) => kind.clone(),
            Figure::Verdict => "verdict".into(),
            Figure::Quiesced => "quiesced".into(),
            Figure::Number(n) => (*n).into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, actual: f64, expected: f64) -> bool {
        match self {
            Op::Eq => actual == expected,
            Op::Ne => actual != expected,
            Op::Lt => actual < expected,
            Op::Le => actual <= expected,
            Op::Gt => actual > expected,
            Op::Ge => actual >= expected,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Compare(Op, f64),
    Word(String),
    Bool(bool),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Compare(op, n) => write!(f, "{}{n}", op.symbol()),
            Rule::Word(w) => f.write_str(w),
            Rule::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One `figure = rule` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub figure: Figure,
    pub rule: Rule,
}

fn comparison(text: &str) -> Result<Rule, String> {
    let text = text.trim();
    let (op, rest) = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
    ]
    .iter()
    .find_map(|(s, op)| text.strip_prefix(s).map(|rest| (*op, rest)))
    .unwrap_or((Op::Eq, text));
    rest.trim()
        .parse::<f64>()
        .map(|n| Rule::Compare(op, n))
        .map_err(|_| {
            format!("{text:?} is not a number or a comparison like \">0\", \"<=5\", \">=1\"")
        })
}

impl Expectation {
    pub fn parse(figure: Figure, value: &toml::Value) -> Result<Expectation, String> {
        let rule = match (&figure, value) {
            (Figure::Verdict, toml::Value::String(s)) => match s.as_str() {
                "valid" | "invalid" | "unknown" => Rule::Word(s.clone()),
                other => {
                    return Err(format!(
                        "{other:?} is not a verdict: valid, invalid or unknown"
                    ));
                }
            },
            (Figure::Verdict, _) => {
                return Err("must be \"valid\", \"invalid\" or \"unknown\"".into());
            }
            (Figure::Quiesced, toml::Value::Boolean(b)) => Rule::Bool(*b),
            (Figure::Quiesced, _) => return Err("must be true or false".into()),
            (_, toml::Value::Integer(n)) => Rule::Compare(Op::Eq, *n as f64),
            (_, toml::Value::Float(n)) => Rule::Compare(Op::Eq, *n),
            (_, toml::Value::String(s)) => comparison(s)?,
            (_, other) => return Err(format!("{other} is not a number or a comparison")),
        };
        Ok(Expectation { figure, rule })
    }

    /// The figure's value in a run, as text and (for numbers) as a number.
    fn actual(&self, f: &Figures) -> (String, Option<f64>) {
        let number = |n: f64| (trim(n), Some(n));
        match &self.figure {
            Figure::Verdict => (f.verdict.clone(), None),
            Figure::Quiesced => (f.quiesced.to_string(), None),
            Figure::Anomaly(kind) => {
                number(f.anomaly_counts.get(kind).copied().unwrap_or(0) as f64)
            }
            Figure::Number(name) => number(match *name {
                "ops" => f.ops as f64,
                "acknowledged-writes" => f.acknowledged_writes as f64,
                "divergent-keys" => f.divergent_keys as f64,
                "causal-violations" => f.causal_violations.unwrap_or(0) as f64,
                "siblings" => f.siblings_max.unwrap_or(0) as f64,
                "availability" => f.availability * 100.0,
                "latency-p99-ms" => f.latency_ms_p99,
                "never-replicated" => f.never_replicated.unwrap_or(0) as f64,
                "never-replicated-pct" => f.never_replicated_pct.unwrap_or(0.0),
                "skipped-updates" => f.skipped_updates.unwrap_or(0) as f64,
                "resolutions" => f.resolutions.unwrap_or(0) as f64,
                _ => f.convergence_s.unwrap_or(f64::INFINITY),
            }),
        }
    }

    /// `Ok(actual)` when the run meets this expectation, else `Err` with a
    /// sentence naming the figure, what it was and what was expected.
    pub fn check(&self, f: &Figures) -> Result<String, String> {
        let (text, number) = self.actual(f);
        let holds = match (&self.rule, number) {
            (Rule::Compare(op, expected), Some(actual)) => op.holds(actual, *expected),
            (Rule::Word(w), _) => *w == text,
            (Rule::Bool(b), _) => b.to_string() == text,
            _ => false,
        };
        let shown = format!("{} = {text}", self.figure.name());
        if holds {
            Ok(shown)
        } else {
            Err(format!("{shown}, expected {}", self.describe()))
        }
    }

    /// `lost-update >0`, `verdict valid`.
    pub fn describe(&self) -> String {
        match &self.rule {
            Rule::Compare(op, n) => format!("{}{}", op.symbol(), trim(*n)),
            other => other.to_string(),
        }
    }
}

fn trim(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        Figures {
            verdict: "invalid".into(),
            ops: 100,
            acknowledged_writes: 50,
            lost_updates: 3,
            divergent_keys: 0,
            causal_violations: None,
            siblings_max: Some(1),
            availability: 0.97,
            latency_ms_p50: 1.0,
            latency_ms_p99: 5.0,
            convergence_s: Some(0.1),
            quiesced: true,
            db_findings: None,
            interleavings: None,
            skipped_updates: None,
            resolutions: None,
            anomaly_counts: [
                ("lost-update".to_string(), 3),
                ("divergence".to_string(), 0),
            ]
            .into(),
            never_replicated: Some(5),
            never_replicated_pct: Some(10.0),
        }
    }

    fn rule(figure: &str, value: toml::Value) -> Expectation {
        Expectation::parse(Figure::parse(figure).unwrap(), &value).unwrap()
    }

    #[test]
    fn comparisons_hold_or_name_the_figure() {
        let f = figures();
        assert!(rule("lost-update", ">0".into()).check(&f).is_ok());
        assert!(rule("lost-update", "<=5".into()).check(&f).is_ok());
        assert!(rule("lost-update", ">=1".into()).check(&f).is_ok());
        assert!(rule("divergence", 0.into()).check(&f).is_ok());
        assert!(rule("availability", ">=95".into()).check(&f).is_ok());
        assert!(rule("verdict", "invalid".into()).check(&f).is_ok());
        assert!(rule("quiesced", true.into()).check(&f).is_ok());
        assert!(rule("never-replicated", ">0".into()).check(&f).is_ok());
        assert_eq!(
            rule("never-replicated-pct", "<5".into()).check(&f),
            Err("never-replicated-pct = 10, expected <5".into())
        );
        assert_eq!(
            rule("lost-update", 0.into()).check(&f),
            Err("lost-update = 3, expected =0".into())
        );
        assert_eq!(
            rule("verdict", "valid".into()).check(&f),
            Err("verdict = invalid, expected valid".into())
        );
    }

    #[test]
    fn bad_rules_say_what_is_expected() {
        assert!(
            Figure::parse("lost-updates")
                .unwrap_err()
                .contains("lost-update")
        );
        let err = Expectation::parse(Figure::Verdict, &"fine".into()).unwrap_err();
        assert!(err.contains("valid, invalid or unknown"), "{err}");
        let err =
            Expectation::parse(Figure::parse("divergence").unwrap(), &"lots".into()).unwrap_err();
        assert!(err.contains("comparison"), "{err}");
    }
}
