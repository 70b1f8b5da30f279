package tool

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListOperations(t *testing.T) {
	var l List
	for _, s := range []string{"Buy milk", "  Call   the bank ", "Book tickets"} {
		if err := l.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Add("   "); err == nil {
		t.Error("empty item should fail")
	}
	if err := l.Add(strings.Repeat("x", MaxText+1)); err == nil {
		t.Error("too long item should fail")
	}
	if err := l.SetDone([]string{"1", "3"}, true); err != nil {
		t.Fatal(err)
	}
	if err := l.SetDone([]string{"4"}, true); err == nil {
		t.Error("item 4 does not exist")
	}
	want := "1. [x] Buy milk\n2. [ ] Call the bank\n3. [x] Book tickets\n2 of 3 done\n"
	if got := l.Format(); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
	if err := l.SetDone([]string{"3"}, false); err != nil {
		t.Fatal(err)
	}
	if n := l.ClearDone(); n != 1 || len(l.Items) != 2 || l.Items[0].Text != "Call the bank" {
		t.Errorf("ClearDone removed %d, left %+v", n, l.Items)
	}
	if err := l.Remove([]string{"2", "2"}); err != nil || len(l.Items) != 1 {
		t.Errorf("Remove: %v %+v", err, l.Items)
	}
}

func TestLoadSave(t *testing.T) {
	file := filepath.Join(t.TempDir(), "list.json")
	l, err := Load(file)
	if err != nil || len(l.Items) != 0 {
		t.Fatalf("missing file: %v %+v", err, l)
	}
	_ = l.Add("Pack the tent")
	if err := Save(file, l); err != nil {
		t.Fatal(err)
	}
	again, err := Load(file)
	if err != nil || len(again.Items) != 1 || again.Items[0].Text != "Pack the tent" {
		t.Errorf("round trip: %v %+v", err, again)
	}
	if err := os.WriteFile(file, []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file); err == nil {
		t.Error("a damaged file should fail")
	}
}

func TestRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "list.json")
	var out bytes.Buffer
	for _, args := range [][]string{{"add", "Buy", "milk"}, {"add", "Call the bank"}, {"done", "1"}} {
		out.Reset()
		if err := Run(append([]string{"--file", file}, args...), nil, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if out.String() != "1. [x] Buy milk\n2. [ ] Call the bank\n1 of 2 done\n" {
		t.Errorf("got %q", out.String())
	}
	out.Reset()
	if err := Run([]string{"--file", file}, nil, &out); err != nil || !strings.HasPrefix(out.String(), "1. [x] Buy milk") {
		t.Errorf("list: %v %q", err, out.String())
	}
	if err := Run([]string{"--file", file, "explode"}, nil, &out); err == nil {
		t.Error("unknown command should fail")
	}
}
