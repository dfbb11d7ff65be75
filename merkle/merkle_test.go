package merkle_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fieldservice/customer-service/merkle"
)

func leaves(n int) merkle.Slice {
	out := make(merkle.Slice, n)
	for i := range out {
		out[i] = merkle.LeafHash([]byte(fmt.Sprintf("event %d", i)))
	}
	return out
}

// The reference tree of RFC 6962: a direct recursion, written apart from
// the package's, on the same definition.
func reference(hs []merkle.Hash) merkle.Hash {
	switch len(hs) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return hs[0]
	}
	k := 1
	for k*2 < len(hs) {
		k *= 2
	}
	l, r := reference(hs[:k]), reference(hs[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// The test vectors of Certificate Transparency's reference implementation:
// the roots of the trees of the first 1..8 of its 8 leaves.
func TestRootsOfTheCTTestVectors(t *testing.T) {
	inputs := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	want := []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	var ls merkle.Slice
	for i, in := range inputs {
		b, _ := hex.DecodeString(in)
		ls = append(ls, merkle.LeafHash(b))
		root, err := merkle.Root(ls, uint64(len(ls)))
		if err != nil || hex.EncodeToString(root[:]) != want[i] {
			t.Errorf("root of %d leaves: %x, want %s (%v)", i+1, root, want[i], err)
		}
	}
}

// Every leaf's audit path verifies against the root, in trees of every size
// up to 70; a wrong leaf, index or root does not.
func TestInclusionProofs(t *testing.T) {
	ls := leaves(70)
	for n := uint64(1); n <= 70; n++ {
		root, err := merkle.Root(ls, n)
		if err != nil || root != reference(ls[:n]) {
			t.Fatalf("root of %d: %v", n, err)
		}
		for i := uint64(0); i < n; i++ {
			proof, err := merkle.InclusionProof(ls, i, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := merkle.VerifyInclusion(ls[i], i, n, proof, root); err != nil {
				t.Fatalf("leaf %d of %d: %v", i, n, err)
			}
			if n > 1 && merkle.VerifyInclusion(ls[(i+1)%n], i, n, proof, root) == nil {
				t.Fatalf("leaf %d of %d: another leaf verifies", i, n)
			}
			if n > 1 && merkle.VerifyInclusion(ls[i], (i+1)%n, n, proof, root) == nil {
				t.Fatalf("leaf %d of %d: another index verifies", i, n)
			}
		}
	}
}

// Every tree is consistent with each of its prefixes; a changed old leaf or
// a changed root is caught.
func TestConsistencyProofs(t *testing.T) {
	ls := leaves(70)
	for n := uint64(1); n <= 70; n++ {
		newRoot, _ := merkle.Root(ls, n)
		for m := uint64(1); m <= n; m++ {
			oldRoot, _ := merkle.Root(ls, m)
			proof, err := merkle.ConsistencyProof(ls, m, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := merkle.VerifyConsistency(m, n, oldRoot, newRoot, proof); err != nil {
				t.Fatalf("%d → %d: %v", m, n, err)
			}
			// A log rewritten under the old tree: its root differs.
			forged := append(merkle.Slice(nil), ls[:m]...)
			forged[rand.IntN(int(m))] = merkle.LeafHash([]byte("rewritten"))
			forgedRoot, _ := merkle.Root(forged, m)
			if err := merkle.VerifyConsistency(m, n, forgedRoot, newRoot, proof); !errors.Is(err, merkle.ErrProof) {
				t.Fatalf("%d → %d: a rewritten old tree verifies", m, n)
			}
		}
	}
}

// A Tree gives the same roots and proofs as the plain leaves, at every size.
func TestTreeAgreesWithTheDefinition(t *testing.T) {
	ls := leaves(300)
	var tree merkle.Tree
	for n := uint64(1); n <= 300; n++ {
		tree.Append(ls[n-1])
		got, err := merkle.Root(&tree, n)
		if err != nil || got != reference(ls[:n]) {
			t.Fatalf("root of %d: %v", n, err)
		}
		i := uint64(rand.IntN(int(n)))
		proof, _ := merkle.InclusionProof(&tree, i, n)
		if err := merkle.VerifyInclusion(ls[i], i, n, proof, got); err != nil {
			t.Fatalf("leaf %d of %d: %v", i, n, err)
		}
		m := 1 + uint64(rand.IntN(int(n)))
		old, _ := merkle.Root(&tree, m)
		cp, _ := merkle.ConsistencyProof(&tree, m, n)
		if err := merkle.VerifyConsistency(m, n, old, got, cp); err != nil {
			t.Fatalf("%d → %d: %v", m, n, err)
		}
	}
}
