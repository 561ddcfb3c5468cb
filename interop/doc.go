// Package interop holds the tests that check syncctl against implementations nobody here
// wrote: npm's hawk (the Hawk reference) and a standard-library Node client written from
// the published tokenlib and Hawk formats. install.sh puts the npm packages in place;
// .ci/run calls it.
package interop
