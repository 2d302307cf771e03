//! The event names: the `type` of an `{"event":...}` line, the journal's `event=` field and the
//! audit log's `event`.

/// Every event the agent names, in the order of the protocol document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    PetitionAccepted,
    PetitionRejected,
    BorderAgentAuthFailed,
    KeepAliveFailed,
    SteeringDataUpdated,
    SteeringDataRejected,
    Disconnected,
    Resigned,
    EntryAdded,
    EntryExpired,
    EntryRemoved,
    JoinerSeen,
    JoinerHandshakeFailed,
    JoinerAuthenticated,
    JoinerFinalize,
    JoinerEntrusted,
    JoinerJoined,
    EventsDropped,
    /// Journal only (debug level), never streamed: a MGMT_COMMISSIONER_GET answer.
    CommissionerDataset,
    /// Journal only (debug level), never streamed: a MGMT_COMMISSIONER_GET that failed.
    CommissionerGetFailed,
}

impl EventKind {
    /// Every event name.
    pub const ALL: [EventKind; 20] = [
        EventKind::PetitionAccepted,
        EventKind::PetitionRejected,
        EventKind::BorderAgentAuthFailed,
        EventKind::KeepAliveFailed,
        EventKind::SteeringDataUpdated,
        EventKind::SteeringDataRejected,
        EventKind::Disconnected,
        EventKind::Resigned,
        EventKind::EntryAdded,
        EventKind::EntryExpired,
        EventKind::EntryRemoved,
        EventKind::JoinerSeen,
        EventKind::JoinerHandshakeFailed,
        EventKind::JoinerAuthenticated,
        EventKind::JoinerFinalize,
        EventKind::JoinerEntrusted,
        EventKind::JoinerJoined,
        EventKind::EventsDropped,
        EventKind::CommissionerDataset,
        EventKind::CommissionerGetFailed,
    ];

    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PetitionAccepted => "petition-accepted",
            EventKind::PetitionRejected => "petition-rejected",
            EventKind::BorderAgentAuthFailed => "border-agent-auth-failed",
            EventKind::KeepAliveFailed => "keep-alive-failed",
            EventKind::SteeringDataUpdated => "steering-data-updated",
            EventKind::SteeringDataRejected => "steering-data-rejected",
            EventKind::Disconnected => "disconnected",
            EventKind::Resigned => "resigned",
            EventKind::EntryAdded => "entry-added",
            EventKind::EntryExpired => "entry-expired",
            EventKind::EntryRemoved => "entry-removed",
            EventKind::JoinerSeen => "joiner-seen",
            EventKind::JoinerHandshakeFailed => "joiner-handshake-failed",
            EventKind::JoinerAuthenticated => "joiner-authenticated",
            EventKind::JoinerFinalize => "joiner-finalize",
            EventKind::JoinerEntrusted => "joiner-entrusted",
            EventKind::JoinerJoined => "joiner-joined",
            EventKind::EventsDropped => "events-dropped",
            EventKind::CommissionerDataset => "commissioner-dataset",
            EventKind::CommissionerGetFailed => "commissioner-get-failed",
        }
    }

    /// The event of a name (e.g. an event line's `type`).
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
