package integration

import _ "embed"

// AsyncAPI is the AsyncAPI 3.0 document of the integration events, served at
// /asyncapi.json. asyncapi/generate.py writes it; the tests validate every
// message the relay publishes against it.
//
//go:embed asyncapi.json
var AsyncAPI []byte
