// Package firefox_test proves syncctl's compatibility against a real Firefox ESR:
// Firefox and syncctl sync the same account on `syncctl serve`'s server, and each side
// is read through its own APIs (Places, the login manager, form history, prefs for
// Firefox; syncctl's engines and local store for syncctl).
package firefox_test
