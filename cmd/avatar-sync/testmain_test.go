package main

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// afterTests run once every test of the package has finished (the kubeapiserver build stops its
// API server there).
var afterTests []func()

// mainAfter is testing.M with afterTests run after the tests.
type mainAfter struct{ m *testing.M }

func (a mainAfter) Run() int {
	code := a.m.Run()
	for _, f := range afterTests {
		f()
	}
	return code
}

// TestMain makes this test binary also the avatar-sync command testscript runs (issue 21): a
// script's `exec avatar-sync …` re-executes it, and main, the real entry point, handles the call.
func TestMain(m *testing.M) {
	testscript.Main(mainAfter{m}, map[string]func(){"avatar-sync": main})
}
