package integration

import (
	"fmt"
	"sort"
	"testing"

	"github.com/anishathalye/porcupine"
)

// kvInput is one operation of the linearizability history.
type kvInput struct {
	Op    string `json:"op"` // "set", "get" or "delete"
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// kvOutput is its result. Writes whose outcome is unknown (the call's context ended
// first) are recorded with Unknown and a return time at the end of the history.
type kvOutput struct {
	Value   string `json:"value,omitempty"`
	Found   bool   `json:"found,omitempty"`
	Unknown bool   `json:"unknown,omitempty"`
}

// kvState is one key's value in the model.
type kvState struct {
	Value string
	Found bool
}

// kvModel is a register per key with set, get and delete; histories are checked per key.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).Key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return kvState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(kvState), input.(kvInput), output.(kvOutput)
		switch in.Op {
		case "set":
			return true, kvState{Value: in.Value, Found: true}
		case "delete":
			return true, kvState{}
		default: // get
			return out.Found == s.Found && out.Value == s.Value, s
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		switch {
		case in.Op == "set":
			return fmt.Sprintf("set(%s, %s)%s", in.Key, in.Value, unknownMark(out))
		case in.Op == "delete":
			return fmt.Sprintf("delete(%s)%s", in.Key, unknownMark(out))
		case out.Found:
			return fmt.Sprintf("get(%s) -> %s", in.Key, out.Value)
		default:
			return fmt.Sprintf("get(%s) -> absent", in.Key)
		}
	},
	DescribeState: func(state any) string {
		if s := state.(kvState); s.Found {
			return s.Value
		}
		return "(absent)"
	},
}

func unknownMark(out kvOutput) string {
	if out.Unknown {
		return " ?"
	}
	return ""
}

// The model must accept a linearizable history and refuse a stale read; otherwise the
// container test could not fail.
func TestKVModel(t *testing.T) {
	op := func(client int, call, ret int64, in kvInput, out kvOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
	}
	good := []porcupine.Operation{
		op(0, 0, 10, kvInput{Op: "set", Key: "a", Value: "1"}, kvOutput{}),
		op(1, 5, 15, kvInput{Op: "get", Key: "a"}, kvOutput{}), // concurrent with the set
		op(1, 20, 30, kvInput{Op: "get", Key: "a"}, kvOutput{Value: "1", Found: true}),
		op(0, 31, 40, kvInput{Op: "delete", Key: "a"}, kvOutput{}),
		op(2, 41, 50, kvInput{Op: "get", Key: "a"}, kvOutput{}),
		op(2, 51, 1<<62, kvInput{Op: "set", Key: "b", Value: "x"}, kvOutput{Unknown: true}),
		op(1, 60, 70, kvInput{Op: "get", Key: "b"}, kvOutput{Value: "x", Found: true}),
	}
	if !porcupine.CheckOperations(kvModel, good) {
		t.Fatal("linearizable history refused")
	}
	stale := append(good[:4:4], op(2, 41, 50, kvInput{Op: "get", Key: "a"}, kvOutput{Value: "1", Found: true}))
	if porcupine.CheckOperations(kvModel, stale) {
		t.Fatal("stale read after a completed delete accepted")
	}
	lost := []porcupine.Operation{
		op(0, 0, 10, kvInput{Op: "set", Key: "a", Value: "1"}, kvOutput{}),
		op(1, 20, 30, kvInput{Op: "get", Key: "a"}, kvOutput{}),
	}
	if porcupine.CheckOperations(kvModel, lost) {
		t.Fatal("lost acknowledged write accepted")
	}
}
