package tool

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func TestGenerateContainsEveryKind(t *testing.T) {
	o := Options{Length: 12, Lower: true, Upper: true, Digits: true, Symbols: true}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		p, err := Generate(o, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 12 {
			t.Fatalf("length %d", len(p))
		}
		for _, set := range []string{Lower, Upper, Digits, Symbols} {
			if !strings.ContainsAny(p, set) {
				t.Fatalf("%q lacks a character from %q", p, set)
			}
		}
		seen[p] = true
	}
	if len(seen) != 200 {
		t.Errorf("passwords repeat: %d unique of 200", len(seen))
	}
}

func TestGenerateRespectsOptions(t *testing.T) {
	o := Options{Length: 64, Lower: true, Digits: true, NoAmbiguous: true}
	p, err := Generate(o, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(p, Upper+Symbols+Ambiguous) {
		t.Errorf("%q has characters that were left out", p)
	}
	if _, err := Generate(Options{Length: 16}, rand.Reader); err == nil {
		t.Error("no kinds should fail")
	}
	if _, err := Generate(Options{Length: 3, Lower: true}, rand.Reader); err == nil {
		t.Error("length 3 should fail")
	}
	if b := (Options{Length: 16, Lower: true, Upper: true, Digits: true, Symbols: true}).Bits(); b < 102 || b > 103 {
		t.Errorf("bits = %v, want about 102.8 (16 × log2 86)", b)
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"--length", "24", "--count", "3", "--no-symbols"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 passwords, got %q", out.String())
	}
	for _, l := range lines {
		if len(l) != 24 || strings.ContainsAny(l, Symbols) {
			t.Errorf("bad password %q", l)
		}
	}
	if err := Run([]string{"--count", "0"}, nil, &out); err == nil {
		t.Error("count 0 should fail")
	}
}
