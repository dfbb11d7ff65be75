// Package merkle is the Merkle tree of RFC 6962 / RFC 9162 (Certificate
// Transparency) over a list of leaves: the tree head (root) of its first n
// leaves, audit paths that prove a leaf is in a tree, and consistency proofs
// that a tree of n leaves is a prefix of a tree of m. The service publishes
// its log this way, with the event hashes of the global log as the leaves, so
// that an outsider can check that no event was changed, removed or reordered
// without trusting the service.
//
// Hashes, as the RFC defines them, with SHA-256:
//
//	leaf hash:  SHA-256(0x00 || leaf)
//	node hash:  SHA-256(0x01 || left || right)
//	empty tree: SHA-256("")
//
// and the tree of n leaves splits at k, the largest power of two smaller
// than n: MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n])).
package merkle

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// Hash is a SHA-256 digest.
type Hash = [sha256.Size]byte

// Leaves gives the leaf hashes of a tree: Leaf(i) is LeafHash of the i-th
// leaf (0-based).
type Leaves interface {
	Len() uint64
	Leaf(i uint64) (Hash, error)
}

// LeafHash is the hash of a leaf's bytes.
func LeafHash(leaf []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leaf)
	var out Hash
	h.Sum(out[:0])
	return out
}

// NodeHash is the hash of an inner node.
func NodeHash(left, right Hash) Hash {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(left[:])
	h.Write(right[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

// split is k: the largest power of two smaller than n (n ≥ 2).
func split(n uint64) uint64 { return 1 << (bits.Len64(n-1) - 1) }

// Root is the tree head of the first n leaves.
func Root(l Leaves, n uint64) (Hash, error) {
	if n > l.Len() {
		return Hash{}, fmt.Errorf("merkle: a tree of %d leaves from %d", n, l.Len())
	}
	if n == 0 {
		return sha256.Sum256(nil), nil
	}
	return subtree(l, 0, n)
}

// subtree is MTH(D[lo:hi]).
func subtree(l Leaves, lo, hi uint64) (Hash, error) {
	if hi-lo == 1 {
		return l.Leaf(lo)
	}
	if t, ok := l.(*Tree); ok {
		if h, ok := t.complete(lo, hi); ok {
			return h, nil
		}
	}
	k := split(hi - lo)
	left, err := subtree(l, lo, lo+k)
	if err != nil {
		return Hash{}, err
	}
	right, err := subtree(l, lo+k, hi)
	if err != nil {
		return Hash{}, err
	}
	return NodeHash(left, right), nil
}

// InclusionProof is the audit path of leaf i in the tree of n leaves
// (RFC 6962 section 2.1.1), from the leaf's sibling up.
func InclusionProof(l Leaves, i, n uint64) ([]Hash, error) {
	if i >= n || n > l.Len() {
		return nil, fmt.Errorf("merkle: leaf %d of a tree of %d (%d leaves)", i, n, l.Len())
	}
	return path(l, i, 0, n)
}

func path(l Leaves, m, lo, hi uint64) ([]Hash, error) {
	if hi-lo == 1 {
		return nil, nil
	}
	k := split(hi - lo)
	if m < k {
		p, err := path(l, m, lo, lo+k)
		if err != nil {
			return nil, err
		}
		sib, err := subtree(l, lo+k, hi)
		return append(p, sib), err
	}
	p, err := path(l, m-k, lo+k, hi)
	if err != nil {
		return nil, err
	}
	sib, err := subtree(l, lo, lo+k)
	return append(p, sib), err
}

// ConsistencyProof proves that the tree of the first m leaves is a prefix of
// the tree of n (RFC 6962 section 2.1.2).
func ConsistencyProof(l Leaves, m, n uint64) ([]Hash, error) {
	if m == 0 || m > n || n > l.Len() {
		return nil, fmt.Errorf("merkle: consistency of %d with %d (%d leaves)", m, n, l.Len())
	}
	return subproof(l, m, 0, n, true)
}

func subproof(l Leaves, m, lo, hi uint64, complete bool) ([]Hash, error) {
	n := hi - lo
	if m == n {
		if complete {
			return nil, nil
		}
		h, err := subtree(l, lo, hi)
		return []Hash{h}, err
	}
	k := split(n)
	if m <= k {
		p, err := subproof(l, m, lo, lo+k, complete)
		if err != nil {
			return nil, err
		}
		h, err := subtree(l, lo+k, hi)
		return append(p, h), err
	}
	p, err := subproof(l, m-k, lo+k, hi, false)
	if err != nil {
		return nil, err
	}
	h, err := subtree(l, lo, lo+k)
	return append(p, h), err
}

// ErrProof: a proof does not verify.
var ErrProof = errors.New("merkle: the proof does not verify")

// VerifyInclusion checks that leafHash is leaf i of the tree of n leaves
// whose head is root (RFC 9162 section 2.1.3.2).
func VerifyInclusion(leafHash Hash, i, n uint64, proof []Hash, root Hash) error {
	if i >= n {
		return ErrProof
	}
	fn, sn := i, n-1
	r := leafHash
	for _, p := range proof {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			r = NodeHash(p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = NodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || r != root {
		return ErrProof
	}
	return nil
}

// VerifyConsistency checks that the tree of m leaves with head oldRoot is a
// prefix of the tree of n leaves with head newRoot (RFC 9162 section 2.1.4.2).
func VerifyConsistency(m, n uint64, oldRoot, newRoot Hash, proof []Hash) error {
	switch {
	case m > n || m == 0:
		return ErrProof
	case m == n:
		if len(proof) != 0 || oldRoot != newRoot {
			return ErrProof
		}
		return nil
	}
	if m&(m-1) == 0 { // m is a power of two: the old root is a node of the new tree
		proof = append([]Hash{oldRoot}, proof...)
	}
	if len(proof) == 0 {
		return ErrProof
	}
	fn, sn := m-1, n-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			fr = NodeHash(c, fr)
			sr = NodeHash(c, sr)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			sr = NodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || fr != oldRoot || sr != newRoot {
		return ErrProof
	}
	return nil
}

// Slice is Leaves held in memory: the leaf hashes.
type Slice []Hash

func (s Slice) Len() uint64                 { return uint64(len(s)) }
func (s Slice) Leaf(i uint64) (Hash, error) { return s[i], nil }

// Tree is a growing tree that keeps the hash of every complete subtree
// (2^k leaves starting at a multiple of 2^k), so a root or a proof costs
// O(log² n) hashes, not O(n). Appending is O(1) amortized. It is not safe for
// concurrent use.
type Tree struct {
	// levels[k][j] is the hash of leaves [j·2^k, (j+1)·2^k).
	levels [][]Hash
}

// Append adds a leaf hash.
func (t *Tree) Append(leaf Hash) {
	if len(t.levels) == 0 {
		t.levels = [][]Hash{nil}
	}
	t.levels[0] = append(t.levels[0], leaf)
	for k := 0; len(t.levels[k])%2 == 0; k++ {
		if k+1 == len(t.levels) {
			t.levels = append(t.levels, nil)
		}
		n := len(t.levels[k])
		t.levels[k+1] = append(t.levels[k+1], NodeHash(t.levels[k][n-2], t.levels[k][n-1]))
	}
}

// Len is how many leaves the tree has.
func (t *Tree) Len() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return uint64(len(t.levels[0]))
}

// Leaf is the i-th leaf hash.
func (t *Tree) Leaf(i uint64) (Hash, error) {
	if i >= t.Len() {
		return Hash{}, fmt.Errorf("merkle: no leaf %d of %d", i, t.Len())
	}
	return t.levels[0][i], nil
}

// complete returns the stored hash of [lo, hi) when it is a complete subtree.
func (t *Tree) complete(lo, hi uint64) (Hash, bool) {
	size := hi - lo
	if size == 0 || size&(size-1) != 0 || lo%size != 0 {
		return Hash{}, false
	}
	k := bits.TrailingZeros64(size)
	if k >= len(t.levels) || lo/size >= uint64(len(t.levels[k])) {
		return Hash{}, false
	}
	return t.levels[k][lo/size], true
}
