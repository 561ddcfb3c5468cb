// Package hawk signs and verifies HTTP requests with Hawk (hawk.1.header, SHA-256), the
// scheme SyncStorage and Firefox Accounts use. The storage client signs with it; the
// embedded server verifies with it.
package hawk
