package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/kurrent/kurrenttest"
	"github.com/fieldservice/customer-service/keystore"
	"github.com/fieldservice/customer-service/keystore/postgres/pgtest"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/redistest"
	"github.com/fieldservice/customer-service/projections/search"
)

// cluster is several customerd processes on one event store (a KurrentDB test
// server in this process), one redis-server and one key store (PostgreSQL).
type cluster struct {
	eventstore, keystore, tokens, master string
	redis                                *redistest.Server
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	kdb, err := kurrenttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kdb.Close)
	return &cluster{eventstore: kdb.URL(), keystore: pgtest.Start(t), redis: redistest.Start(t),
		tokens: filepath.Join(t.TempDir(), "tokens.json"), master: keystore.EncodeMasterKey(keystore.GenerateMasterKey())}
}

// instance starts one more customerd of the cluster, on redisAddr.
func (c *cluster) instance(t *testing.T, redisAddr string) *server {
	t.Helper()
	s := &server{t: t, data: t.TempDir(), env: []string{"CUSTOMERD_MASTER_KEY=" + c.master}}
	s.args = []string{"--data", s.data, "--addr", "127.0.0.1:0", "--eventstore", c.eventstore, "--redis", "redis://" + redisAddr,
		"--keystore", c.keystore, "--tokens", c.tokens, "--min-position-wait", "30s"}
	s.start(t)
	t.Cleanup(func() {
		s.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("customerd %s's log:\n%s", s.url, s.logs)
		}
	})
	return s
}

// commitLog records every commit the read models' leaders publish.
type commitLog struct {
	mu      sync.Mutex
	commits map[string][][3]string // read model → [generation, from, to]
}

func (l *commitLog) listen(t *testing.T, rdb *redis.Client) {
	t.Helper()
	sub := rdb.PSubscribe(context.Background(), "rm:*:commits")
	if _, err := sub.Receive(context.Background()); err != nil { // the subscription is in place
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	go func() {
		for m := range sub.Channel() {
			name := strings.TrimSuffix(strings.TrimPrefix(m.Channel, "rm:"), ":commits")
			f := strings.Fields(m.Payload)
			if len(f) != 3 {
				continue
			}
			l.mu.Lock()
			l.commits[name] = append(l.commits[name], [3]string{f[0], f[1], f[2]})
			l.mu.Unlock()
		}
	}()
}

// check says whether the current generation's commits chain from its switch
// without a gap or an overlap: every event applied once.
func (l *commitLog) check(name string, gen string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var chain [][3]string
	for _, c := range l.commits[name] {
		if c[0] == gen {
			chain = append(chain, c)
		}
	}
	if len(chain) == 0 {
		return fmt.Errorf("%s: no commits heard for generation %s", name, gen)
	}
	for i := 1; i < len(chain); i++ {
		if chain[i][1] != chain[i-1][2] {
			return fmt.Errorf("%s: commit %d goes from %s, but the one before ended at %s (a gap or an event applied twice)",
				name, i, chain[i][1], chain[i-1][2])
		}
	}
	return nil
}

// Three instances on one store and one Redis: writes through all of them, one
// leader per read model, read-your-writes everywhere, the leader SIGKILLed and
// replaced, every event applied once, and the read models equal to a fresh
// build's.
func TestThreeInstancesOneLeaderPerReadModel(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	rdb := c.redis.Client(t)
	log := &commitLog{commits: map[string][][3]string{}}
	log.listen(t, rdb)

	instances := []*server{c.instance(t, c.redis.Addr)}
	b, err := os.ReadFile(filepath.Join(instances[0].data, "admin.token")) // the first start made it
	if err != nil {
		t.Fatal(err)
	}
	instances[0].admin = strings.TrimSpace(string(b))
	for range 2 {
		s := c.instance(t, c.redis.Addr)
		s.admin = instances[0].admin // one token file
		instances = append(instances, s)
	}

	n := 0
	writeAll := func(live []*server, rounds int) string {
		t.Helper()
		var last string
		for range rounds {
			for i, s := range live {
				n++
				w := s.register(t, person(fmt.Sprint("Ada", n), "Lovelace", fmt.Sprintf("ada%d@example.org", n)))
				// Read your write on another instance.
				other := live[(i+1)%len(live)]
				a := other.do(t, "GET", "/v1/customers/"+w.ID, other.admin, nil, map[string]string{"X-Min-Position": w.Position})
				if a.Status != http.StatusOK {
					t.Fatalf("customer %s written on %s, read on %s at %s: %d %s", w.ID, s.url, other.url, w.Position, a.Status, a.Body)
				}
				if ids := other.searchIDs(t, other.admin, "ada"+strconv.Itoa(n)+"@", w.Position); !slices.Contains(ids, w.ID) {
					t.Fatalf("customer %s written on %s is not found on %s at %s", w.ID, s.url, other.url, w.Position)
				}
				last = w.Position
			}
		}
		return last
	}
	writeAll(instances, 4)

	// SIGKILL the customer view's leader; the others take over.
	ctx := context.Background()
	leader, err := projections.Leader(ctx, rdb, "customers-v1")
	if err != nil || leader == "" {
		t.Fatalf("no leader of the customer view: %q %v", leader, err)
	}
	var survivors []*server
	killed := false
	for _, s := range instances {
		if strings.HasSuffix(leader, ":"+strconv.Itoa(s.cmd.Process.Pid)) {
			s.kill(syscall.SIGKILL)
			killed = true
			continue
		}
		survivors = append(survivors, s)
	}
	if !killed {
		t.Fatalf("the lease names %s, which is none of the instances", leader)
	}
	last := writeAll(survivors, 3)
	next, _ := projections.Leader(ctx, rdb, "customers-v1")
	if next == leader || next == "" {
		t.Fatalf("the customer view's lease names %q after its leader %s was killed", next, leader)
	}
	t.Logf("the customer view's leader %s was killed; %s took over", leader, next)

	// Every event applied once, in each read model's current generation.
	for _, name := range []string{"customers-v1", search.Name} {
		gen := rdb.Get(ctx, "rm:"+name+":gen").Val()
		eventually(t, 20*time.Second, name+"'s commits reaching "+last, func() bool {
			cp, _ := eventstore.ParsePosition(rdb.Get(ctx, "rm:"+name+":"+gen+":checkpoint").Val())
			want, _ := eventstore.ParsePosition(last)
			return cp.Compare(want) >= 0
		})
		if err := log.check(name, gen); err != nil {
			t.Error(err)
		}
		log.mu.Lock()
		t.Logf("%s: %d commits heard, generation %s", name, len(log.commits[name]), gen)
		log.mu.Unlock()
	}

	// A fresh build on another Redis gives the same read models.
	fresh := redistest.Start(t)
	f := c.instance(t, fresh.Addr)
	f.admin = instances[0].admin
	f.do(t, "GET", "/v1/customers?limit=1", f.admin, nil, map[string]string{"X-Min-Position": last})
	f.do(t, "GET", "/v1/customers?q=ada1", f.admin, nil, map[string]string{"X-Min-Position": last})
	for _, s := range survivors {
		s.kill(syscall.SIGTERM) // nothing moves while the digests are taken
	}
	f.kill(syscall.SIGTERM)
	got, n1 := digest(t, c.redis.Addr, ":checkpoint")
	want, n2 := digest(t, fresh.Addr, ":checkpoint")
	if got != want {
		t.Fatalf("the cluster's read models (%d keys) differ from a fresh build's (%d keys)", n1, n2)
	}
}
