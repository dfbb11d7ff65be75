// Command customerctl runs operations on a customerd installation. It manages
// the API's bearer tokens, working on the token file (--tokens, default
// <data>/tokens.json, as customerd; a running customerd picks changes up on its
// next request), and asks a running customerd to republish integration events:
//
//	customerctl token create --group coordinator --name "Ann Office" [--actor-id ann]
//	customerctl token list
//	customerctl token revoke tok_0123456789ab
//	customerctl republish --from 1042/1042 [--to 2048/2048]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/api/auth"
	"github.com/fieldservice/customer-service/domain/actor"
)

const usage = `usage:
  customerctl token create --group GROUP --name NAME [--actor-id ID]
    GROUP: admin, coordinator, technician, auditor, or a group an admin defined
    (PUT /v1/permission-groups/{name}); --role is the same flag
  customerctl token list
  customerctl token revoke TOKEN_ID
  customerctl republish --from POSITION|TIME [--to POSITION|TIME] [--url URL] [--token-file FILE]
    re-emits the integration events after a position (the last one a subscriber has) or
    since an RFC 3339 time, through customerd's bus; needs events.republish
common flags: --data DIR (CUSTOMERD_DATA, default ./data), --tokens FILE (CUSTOMERD_TOKENS, default <data>/tokens.json)
flags may come before or after the command: customerctl --data /srv/customerd token list
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "customerctl:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	words, flags := splitArgs(args)
	if len(words) >= 1 && words[0] == "republish" {
		return republish(append(flags, words[1:]...), stdout, stderr)
	}
	if len(words) < 2 || words[0] != "token" {
		fmt.Fprint(stderr, usage)
		return errors.New("want a command")
	}
	verb := words[1]
	fs := flag.NewFlagSet("customerctl token "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	data := fs.String("data", envOr("CUSTOMERD_DATA", "./data"), "data directory")
	tokens := fs.String("tokens", os.Getenv("CUSTOMERD_TOKENS"), "token file")
	role := fs.String("role", "", "permission group of the new token (same as --group)")
	group := fs.String("group", "", "permission group of the new token: admin, coordinator, technician, auditor, or one an admin defined")
	name := fs.String("name", "", "name of the person or integration the token is for")
	actorID := fs.String("actor-id", "", "actor id recorded in events (default: a new UUID)")
	if err := fs.Parse(append(flags, words[2:]...)); err != nil {
		return err
	}
	path := *tokens
	if path == "" {
		path = filepath.Join(*data, "tokens.json")
	}
	now := time.Now()
	switch verb {
	case "create":
		if *group != "" && *role != "" && *group != *role {
			return errors.New("--group and --role name the same thing: give one")
		}
		if *group != "" {
			*role = *group
		}
		r, err := actor.ParseRole(*role)
		if err != nil {
			return err
		}
		if strings.TrimSpace(*name) == "" {
			return errors.New("--name is required: who is this token for?")
		}
		id := *actorID
		if id == "" {
			id = uuid.Must(uuid.NewV7()).String()
		}
		secret, tok, err := auth.Issue(path, actor.Actor{ID: id, Name: *name, Role: r}, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "issued %s for %s (%s); the token is shown once:\n", tok.ID, tok.Name, tok.Role)
		fmt.Fprintln(stdout, secret)
	case "list":
		list, err := auth.List(path)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tROLE\tNAME\tACTOR\tCREATED\tREVOKED")
		for _, t := range list {
			revoked := "-"
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Name, t.ActorID, t.CreatedAt.Format(time.RFC3339), revoked)
		}
		return w.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("name the token id to revoke (customerctl token list shows them)")
		}
		if err := auth.Revoke(path, fs.Arg(0), now); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked %s\n", fs.Arg(0))
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", verb)
	}
	return nil
}

// valued are the flags that take a value: "--data DIR" as well as "--data=DIR".
var valued = map[string]bool{"data": true, "tokens": true, "role": true, "group": true, "name": true, "actor-id": true,
	"from": true, "to": true, "url": true, "token-file": true}

// splitArgs separates the flags from the words (the command, its verb and
// arguments), so that flags may come before the command as well as after it.
// Everything after "--" is a word.
func splitArgs(args []string) (words, flags []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(words, args[i+1:]...), flags
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			words = append(words, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if valued[name] && !hasValue && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return words, flags
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
