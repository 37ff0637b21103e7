// Reference answers from moby/patternmatcher itself, for the property tests of
// kaniko_action/dockerignore.py. Built by tests/support/oracle.py against the version a
// kaniko release pins; reads one JSON request on stdin and writes one JSON answer.
package main

import (
	"bytes"
	"encoding/json"
	"os"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

type request struct {
	Ignore []byte   `json:"ignore"`
	Paths  [][]byte `json:"paths"`
}

type answer struct {
	Patterns  [][]byte `json:"patterns"`
	ReadError string   `json:"read_error"`
	Excluded  []bool   `json:"excluded"`
	Errors    []string `json:"errors"`
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		panic(err)
	}
	var out answer
	patterns, err := ignorefile.ReadAll(bytes.NewReader(req.Ignore))
	if err != nil {
		out.ReadError = err.Error()
	}
	for _, p := range patterns {
		out.Patterns = append(out.Patterns, []byte(p))
	}
	for _, path := range req.Paths {
		// Exactly kaniko's FileContext.ExcludesFile for a path relative to the context.
		excluded, err := patternmatcher.Matches(string(path), patterns)
		message := ""
		if err != nil {
			message = err.Error()
		}
		out.Excluded = append(out.Excluded, excluded)
		out.Errors = append(out.Errors, message)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
