// Package redisscript runs batches of Lua script calls against Redis in as
// few round trips as the server allows.
package redisscript

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// Call is one script call: the script's SHA1 and source, its keys and its
// arguments.
type Call struct {
	SHA, Src string
	Keys     []string
	Args     []any
}

// Pipeliner is what Run needs of a client (every go-redis client has it).
type Pipeliner interface {
	Pipeline() redis.Pipeliner
}

// Run sends calls in one pipeline of EVALSHA and, for those the server
// answered NOSCRIPT (after a restart or SCRIPT FLUSH), in a second one of
// EVAL; a call the server refused as NOSCRIPT has not run, so none runs
// twice. Errors stay on the commands, one per call in order.
func Run(ctx context.Context, c Pipeliner, calls []Call) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(calls))
	pipe := c.Pipeline()
	for i, call := range calls {
		cmds[i] = pipe.EvalSha(ctx, call.SHA, call.Keys, call.Args...)
	}
	_, _ = pipe.Exec(ctx) // errors are read per command

	var retry []int
	for i, cmd := range cmds {
		if IsNoScript(cmd.Err()) {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		pipe := c.Pipeline()
		for _, i := range retry {
			cmds[i] = pipe.Eval(ctx, calls[i].Src, calls[i].Keys, calls[i].Args...)
		}
		_, _ = pipe.Exec(ctx)
	}
	return cmds
}

// IsNoScript reports whether err is the server's NOSCRIPT answer.
func IsNoScript(err error) bool {
	return errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")
}
