//! The event names: the `type` of an `{"event":...}` line, the journal's `event=` field and the
//! audit log's `event`.

names! {
    /// Every event the agent names, in the order of the protocol document.
    pub enum EventKind {
        PetitionAccepted => "petition-accepted",
        PetitionRejected => "petition-rejected",
        BorderAgentAuthFailed => "border-agent-auth-failed",
        KeepAliveFailed => "keep-alive-failed",
        SteeringDataUpdated => "steering-data-updated",
        SteeringDataRejected => "steering-data-rejected",
        Disconnected => "disconnected",
        Resigned => "resigned",
        EntryAdded => "entry-added",
        /// `joiner.import` added a file's entries (count, labels, signer; never a PSKd).
        EntriesImported => "entries-imported",
        EntryExpired => "entry-expired",
        EntryRemoved => "entry-removed",
        JoinerSeen => "joiner-seen",
        JoinerHandshakeFailed => "joiner-handshake-failed",
        JoinerAuthenticated => "joiner-authenticated",
        JoinerFinalize => "joiner-finalize",
        JoinerEntrusted => "joiner-entrusted",
        JoinerJoined => "joiner-joined",
        EventsDropped => "events-dropped",
        NetworkKeyRotationScheduled => "network-key-rotation-scheduled",
        NetworkKeyRotationApplied => "network-key-rotation-applied",
        NetworkMigrationScheduled => "network-migration-scheduled",
        NetworkMigrationApplied => "network-migration-applied",
        ActiveDatasetChanged => "active-dataset-changed",
        DatasetImported => "dataset-imported",
        /// The inventory found an onboarded device on the mesh (by its EUI-64).
        DeviceAttached => "device-attached",
        /// An onboarded device was not found by two presence queries in a row.
        DeviceAbsent => "device-absent",
        /// `device.forget` removed a device's record.
        DeviceForgotten => "device-forgotten",
        /// Journal only (debug level), never streamed: a MGMT_COMMISSIONER_GET answer.
        CommissionerDataset => "commissioner-dataset",
        /// Journal only (debug level), never streamed: a MGMT_COMMISSIONER_GET that failed.
        CommissionerGetFailed => "commissioner-get-failed",
    }
}
