package tool

import (
	"bytes"
	"sort"
	"strings"
	"testing"
)

func TestParseNames(t *testing.T) {
	got := ParseNames([]string{"Ann, Ben ,, Cat", "Dan", "  Eve  Smith \n\nFay;Gus"})
	want := []string{"Ann", "Ben", "Cat", "Dan", "Eve Smith", "Fay", "Gus"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
}

func TestMakeTeamsIsFairAndComplete(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f", "g"}
	teams, err := MakeTeams(names, 3, SecureShuffler)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, team := range teams {
		if len(team) < 2 || len(team) > 3 {
			t.Errorf("unbalanced team %v", team)
		}
		all = append(all, team...)
	}
	sort.Strings(all)
	if strings.Join(all, "") != "abcdefg" {
		t.Errorf("names lost or repeated: %v", all)
	}
	if _, err := MakeTeams(names[:2], 3, SecureShuffler); err == nil {
		t.Error("2 names for 3 teams should fail")
	}
}

func TestSeedIsRepeatableAndShuffles(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	first := Shuffle(names, SeededShuffler(42))
	if strings.Join(first, "") != strings.Join(Shuffle(names, SeededShuffler(42)), "") {
		t.Error("the same seed must give the same order")
	}
	moved := false
	for seed := int64(1); seed < 5; seed++ {
		if strings.Join(Shuffle(names, SeededShuffler(seed)), "") != "abcdefgh" {
			moved = true
		}
	}
	if !moved {
		t.Error("shuffling never changed the order")
	}
	winners, err := Pick(names, 3, SecureShuffler)
	if err != nil || len(winners) != 3 || winners[0] == winners[1] || winners[1] == winners[2] || winners[0] == winners[2] {
		t.Errorf("Pick: %v %v", winners, err)
	}
	if _, err := Pick(names, 9, SecureShuffler); err == nil {
		t.Error("picking more names than there are should fail")
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"--teams", "2", "--seed", "7", "Ann", "Ben", "Cat", "Dan"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Team 1: ") || !strings.HasPrefix(lines[1], "Team 2: ") {
		t.Fatalf("got %q", out.String())
	}
	for _, n := range []string{"Ann", "Ben", "Cat", "Dan"} {
		if strings.Count(out.String(), n) != 1 {
			t.Errorf("%s appears %d times", n, strings.Count(out.String(), n))
		}
	}
	again := bytes.Buffer{}
	_ = Run([]string{"--teams", "2", "--seed", "7", "Ann", "Ben", "Cat", "Dan"}, nil, &again)
	if again.String() != out.String() {
		t.Error("same seed, different teams")
	}
	out.Reset()
	if err := Run([]string{"--pick", "1"}, strings.NewReader("Ann\nBen\nCat\n"), &out); err != nil || !strings.HasPrefix(out.String(), "Winner: ") {
		t.Errorf("pick from stdin: %v %q", err, out.String())
	}
	out.Reset()
	if err := Run([]string{"--size", "2", "a,b,c,d,e"}, nil, &out); err != nil || strings.Count(out.String(), "Team ") != 3 {
		t.Errorf("--size: %v %q", err, out.String())
	}
	if err := Run([]string{"--teams", "5", "a", "b"}, nil, &out); err == nil {
		t.Error("too few names should fail")
	}
}
