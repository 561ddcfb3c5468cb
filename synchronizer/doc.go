// Package synchronizer pairs a local TrackedRepository with a remote Repository (usually
// the crypto middleware over one server collection) and runs the two flows of a sync:
// incoming (fetch what changed on the server since last time, reconcile against local
// changes, apply) and outgoing (upload local changes in batches, mark them synced). It
// persists progress in the same transaction as the records that progress covers, so a
// crash at any point resumes without losses or duplicates.
package synchronizer
