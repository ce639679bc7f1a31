//! The sandbox's test personas. Obviously fictional data, shaped like ID.me's.

pub struct Persona {
    pub id: &'static str,
    pub label: &'static str,
    /// The group this persona is verified in; `None` for the unverified persona.
    pub group: Option<&'static str>,
    pub subgroups: &'static [&'static str],
    pub fname: &'static str,
    pub lname: &'static str,
    pub email: &'static str,
    pub uuid: &'static str,
}

/// "decline" is not a persona: it answers `error=access_denied`.
pub const DECLINE: &str = "decline";

pub const PERSONAS: &[Persona] = &[
    Persona {
        id: "veteran",
        label: "Military veteran",
        group: Some("military"),
        subgroups: &["Veteran"],
        fname: "Vera",
        lname: "Sandboxova",
        email: "vera.veteran@sandbox.invalid",
        uuid: "5a0dbe7e0000400080000000000000a1",
    },
    Persona {
        id: "service_member",
        label: "Military service member",
        group: Some("military"),
        subgroups: &["Service Member"],
        fname: "Sergio",
        lname: "Testerman",
        email: "sergio.service@sandbox.invalid",
        uuid: "5a0dbe7e0000400080000000000000a2",
    },
    Persona {
        id: "student",
        label: "Student",
        group: Some("student"),
        subgroups: &["Student"],
        fname: "Stella",
        lname: "Example",
        email: "stella.student@sandbox.invalid",
        uuid: "5a0dbe7e0000400080000000000000a3",
    },
    Persona {
        id: "teacher",
        label: "Teacher",
        group: Some("teacher"),
        subgroups: &["Teacher"],
        fname: "Theo",
        lname: "Placeholder",
        email: "theo.teacher@sandbox.invalid",
        uuid: "5a0dbe7e0000400080000000000000a4",
    },
    Persona {
        id: "responder",
        label: "First responder",
        group: Some("responder"),
        subgroups: &["EMT"],
        fname: "Rita",
        lname: "Mockford",
        email: "rita.responder@sandbox.invalid",
        uuid: "5a0dbe7e0000400080000000000000a5",
    },
    Persona {
        id: "nurse",
        label: "Nurse",
        group: Some("nurse"),
        subgroups: &["Registered Nurse"],
        fname: "Nina",
        lname: "Fakesdottir",
        email: "nina.nurse@sandbox.invalid",
        uuid: "5a0dbe7e0000400080000000000000a6",
    },
    Persona {
        id: "unverified",
        label: "Not verified (ID.me could not confirm a status)",
        group: None,
        subgroups: &[],
        fname: "Uma",
        lname: "Unconfirmed",
        email: "uma.unverified@sandbox.invalid",
        uuid: "5a0dbe7e0000400080000000000000a7",
    },
];

pub fn find(id: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.id == id)
}

impl Persona {
    /// The v3 attributes payload for these scopes. A persona verified in a requested group
    /// gets `verified: true`; the unverified persona gets `verified: false` for each requested
    /// group; a persona of another group gets an empty `status`, as ID.me may send.
    pub fn payload(&self, scopes: &[String]) -> serde_json::Value {
        let status: Vec<serde_json::Value> = match self.group {
            Some(g) if scopes.iter().any(|s| s == g) => vec![serde_json::json!({
                "group": g, "subgroups": self.subgroups, "verified": true
            })],
            Some(_) => Vec::new(),
            None => scopes
                .iter()
                .map(|s| serde_json::json!({"group": s, "subgroups": [], "verified": false}))
                .collect(),
        };
        serde_json::json!({
            "attributes": [
                {"handle": "fname", "name": "First Name", "value": self.fname},
                {"handle": "lname", "name": "Last Name", "value": self.lname},
                {"handle": "email", "name": "Email", "value": self.email},
                {"handle": "uuid", "name": "Unique Identifier", "value": self.uuid},
                {"handle": "zip", "name": "Zip Code", "value": "00000"},
            ],
            "status": status,
        })
    }
}

impl Persona {
    /// What the rules see of this persona once verified in its own group (none for the
    /// unverified persona): the console's preview evaluates every offer against these.
    pub fn facts(&self) -> crate::rules::Facts {
        let scopes: Vec<String> = self.group.iter().map(|g| g.to_string()).collect();
        let body = self.payload(&scopes).to_string();
        crate::rules::explain::facts_from_json(body.as_bytes()).unwrap_or_default()
    }
}
