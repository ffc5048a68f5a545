// Package manifests holds the schemas wasmcanvas accepts, embedded so the
// binaries validate without the network: the JSON Schema (draft 2020-12) of
// each served version of the ODA Component CRD, generated from the upstream
// CRD by ./gen. It owns those files and nothing else; decoding and checking
// Components is package oda's job.
package manifests

import (
	"embed"
	"fmt"
	"strings"
)

//go:generate go run ./gen -out .

// FS holds the generated schema files (oda-component-<version>.schema.json).
//
//go:embed *.schema.json
var FS embed.FS

// ComponentVersions are the Component versions with a schema here.
var ComponentVersions = []string{"v1", "v1beta4", "v1beta3"}

// ComponentSchemaFile is the file name of the schema of version (v1,
// v1beta4, v1beta3, or the full apiVersion oda.tmforum.org/v1...).
func ComponentSchemaFile(version string) string {
	return "oda-component-" + strings.TrimPrefix(version, "oda.tmforum.org/") + ".schema.json"
}

// ComponentSchemaID is the $id of the schema of version.
func ComponentSchemaID(version string) string {
	return "https://wasmcanvas.io/schemas/" + ComponentSchemaFile(version)
}

// ComponentSchema returns the JSON Schema of version.
func ComponentSchema(version string) ([]byte, error) {
	b, err := FS.ReadFile(ComponentSchemaFile(version))
	if err != nil {
		return nil, fmt.Errorf("no Component schema for %q (have %s): %w", version, strings.Join(ComponentVersions, ", "), err)
	}
	return b, nil
}
