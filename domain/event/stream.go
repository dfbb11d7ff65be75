package event

import "strings"

// Stream declares a kind of stream: how its names are built and recognised, and
// which aggregate owns it. Names carry no personal data (stream names cannot be
// erased): an id, or a keyed hash of a value.
//
// Kinds may share a prefix ("customer-" and the single stream
// "customer-numbers"): a stream belongs to a kind only when the rest of its name
// is an id of the kind's form, so a name never belongs to two kinds.
type Stream struct {
	prefix    string
	aggregate string
	single    bool
	valid     func(id string) bool
}

// ByID declares streams named prefix + id, one per aggregate instance; valid says
// which ids are of the kind's form (UUID, HexDigest).
func ByID(prefix, aggregate string, valid func(id string) bool) Stream {
	return Stream{prefix: prefix, aggregate: aggregate, valid: valid}
}

// Single declares one stream with a fixed name, such as a counter.
func Single(name, aggregate string) Stream {
	return Stream{prefix: name, aggregate: aggregate, single: true}
}

// Name is the stream of the instance id; for a Single stream, its fixed name (id
// is ignored).
func (s Stream) Name(id string) string {
	if s.single {
		return s.prefix
	}
	return s.prefix + id
}

// ID returns the instance a stream name belongs to, and whether the name is of
// this kind at all.
func (s Stream) ID(name string) (string, bool) {
	if s.single {
		return "", name == s.prefix
	}
	id, ok := strings.CutPrefix(name, s.prefix)
	return id, ok && s.valid(id)
}

// Owns reports whether name is a stream of this kind.
func (s Stream) Owns(name string) bool {
	_, ok := s.ID(name)
	return ok
}

// Prefix is what every name of the kind starts with (the whole name of a Single
// stream): what a store filters its log by.
func (s Stream) Prefix() string { return s.prefix }

// Aggregate names the aggregate whose events the kind's streams hold.
func (s Stream) Aggregate() string { return s.aggregate }

// UUID reports whether id is a UUID in its canonical lowercase form, the ids of
// aggregates.
func UUID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !isLowerHex(c):
			return false
		}
	}
	return true
}

// HexDigest returns a check for ids that are n lowercase hex digits: the keyed
// hashes that name reservation streams.
func HexDigest(n int) func(string) bool {
	return func(id string) bool {
		if len(id) != n {
			return false
		}
		for i := 0; i < len(id); i++ {
			if !isLowerHex(id[i]) {
				return false
			}
		}
		return true
	}
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }
