// Package offline is offline-first sync for apps that embed syncctl: local writes are
// field-level operations (create, update with only the changed fields, remove) appended
// durably to a queue in the same transaction that makes them visible, and a sync loop
// exchanges them with the server as an encrypted, append-only log of operations.
//
// The local view of a record is its confirmed state (every remote operation applied in
// server order) with the pending local operations reapplied on top. Applying a batch of
// remote operations is therefore "unapply pending, apply remote, reapply pending", in one
// transaction. Conflicts resolve by the order operations reach the server: creates never
// conflict (ids are unique); an update of a removed record does nothing, so remove beats
// update whatever the order; two removes are one; two updates merge field by field, the
// later write winning a field both changed.
package offline
