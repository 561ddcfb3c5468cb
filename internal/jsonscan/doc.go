// Package jsonscan reads and writes the few JSON shapes that sit on the hot path of a
// sync: the BSO envelope and the encrypted payload object. It walks the members of an
// object without building a map or reflecting into a struct, so decoding a record costs a
// handful of allocations instead of dozens. Everything else in syncctl uses encoding/json.
package jsonscan
