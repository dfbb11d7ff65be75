package api

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fieldservice/customer-service/auditlog"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/merkle"
)

// The proofs an outsider can check: the log's signed tree head, and the
// inclusion and consistency proofs of RFC 6962 (package auditlog).

var errNoAudit = &apiError{status: http.StatusServiceUnavailable, code: "audit-log-unavailable", title: "The audit log is not available"}

func b64(h merkle.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func b64s(hs []merkle.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = b64(h)
	}
	return out
}

func (s *server) checkpoint(c *gin.Context) {
	if s.cfg.Audit == nil {
		_ = c.Error(errNoAudit)
		return
	}
	cp, err := s.cfg.Audit.Checkpoint(time.Now())
	if err != nil {
		_ = c.Error(err)
		return
	}
	respond(c, http.StatusOK, gin.H{"origin": auditlog.Origin, "size": cp.Size, "root": b64(cp.Root), "time": cp.Time,
		"signature": base64.StdEncoding.EncodeToString(cp.Signature), "public_key": base64.StdEncoding.EncodeToString(s.cfg.Audit.PublicKey()),
		"body": string(cp.Body())})
}

// size reads an optional tree size parameter (0 when absent).
func size(c *gin.Context, name string) (uint64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := auditlog.ParseSize(v)
	if err != nil || n == 0 {
		return 0, invalid(FieldProblem{Field: "query." + name, Message: "must be a tree size, 1 or more"})
	}
	return n, nil
}

func (s *server) inclusionProof(c *gin.Context) {
	err := unknownParams(c, "position", "tree_size")
	var p eventstore.Position
	if err == nil {
		if p, err = eventstore.ParsePosition(c.Query("position")); err != nil {
			err = invalid(FieldProblem{Field: "query.position", Message: `must be an event's position, like "1042/1042"`})
		}
	}
	var n uint64
	if err == nil {
		n, err = size(c, "tree_size")
	}
	if err == nil && s.cfg.Audit == nil {
		err = errNoAudit
	}
	var inc auditlog.Inclusion
	if err == nil {
		inc, err = s.cfg.Audit.InclusionProof(p, n)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	respond(c, http.StatusOK, gin.H{"position": p.String(), "leaf_index": inc.Index, "tree_size": inc.TreeSize,
		"leaf_hash": b64(inc.LeafHash), "audit_path": b64s(inc.Path)})
}

func (s *server) consistencyProof(c *gin.Context) {
	err := unknownParams(c, "from", "to")
	var from, to uint64
	if err == nil {
		from, err = size(c, "from")
		if err == nil && from == 0 {
			err = invalid(FieldProblem{Field: "query.from", Message: "is required: the size of the tree you saved"})
		}
	}
	if err == nil {
		to, err = size(c, "to")
	}
	if err == nil && s.cfg.Audit == nil {
		err = errNoAudit
	}
	if err == nil && to == 0 {
		cp, cerr := s.cfg.Audit.Checkpoint(time.Now())
		to, err = cp.Size, cerr
	}
	var proof []merkle.Hash
	if err == nil {
		proof, err = s.cfg.Audit.ConsistencyProof(from, to)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	respond(c, http.StatusOK, gin.H{"from": from, "to": to, "proof": b64s(proof)})
}
