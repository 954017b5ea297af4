package scripttest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestCommandsEchoesAndDropsOldOutput(t *testing.T) {
	script := "config a=1\n> stale output\n>\n\n  # a comment\n  tick @5  \n> old\n"
	var out Output
	var got []Line
	for l := range Commands(script, &out) {
		got = append(got, l)
		out.Emit("ran %s", l.Command())
	}
	want := []Line{{N: 1, Text: "config a=1"}, {N: 6, Text: "  tick @5  "}}
	if !slices.Equal(got, want) {
		t.Errorf("commands %+v, want %+v", got, want)
	}
	wantOut := "config a=1\n> ran config a=1\n\n  # a comment\n  tick @5  \n> ran tick @5\n"
	if out.String() != wantOut {
		t.Errorf("output %q, want %q", out.String(), wantOut)
	}
}

func TestCommandsStopsWhenAsked(t *testing.T) {
	var out Output
	n := 0
	for range Commands("a\nb\nc\n", &out) {
		n++
		break
	}
	if n != 1 || out.String() != "a\n" {
		t.Errorf("after break: %d commands, output %q", n, out.String())
	}
}

func TestAt(t *testing.T) {
	for _, c := range []struct {
		line string
		want int64
		ok   bool
	}{
		{"tick @42", 42, true},
		{"submit @-1 h=1", -1, true},
		{"tick", 0, false},
		{"tick 42", 0, false},
		{"tick @x", 0, false},
	} {
		got, err := At(strings.Fields(c.line))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("At(%q) = %d, %v; want %d, ok=%v", c.line, got, err, c.want, c.ok)
		}
	}
}

func TestDiff(t *testing.T) {
	if d := Diff("a\nb\n", "a\nb\n"); d != "" {
		t.Errorf("equal texts: %q", d)
	}
	if d, want := Diff("a\nb\n", "a\nc\nd\n"), "line 2:\n  want \"b\"\n  got  \"c\"\nline 3:\n  want \"\"\n  got  \"d\"\n"; d != want {
		t.Errorf("Diff = %q, want %q", d, want)
	}
	var want, got strings.Builder
	for i := range 50 {
		fmt.Fprintf(&want, "w%d\n", i)
		fmt.Fprintf(&got, "g%d\n", i)
	}
	if n := strings.Count(Diff(want.String(), got.String()), "line "); n != maxDiffLines {
		t.Errorf("%d lines listed, want at most %d", n, maxDiffLines)
	}
}
