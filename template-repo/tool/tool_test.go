package tool

import (
	"bytes"
	"strings"
	"testing"
)

func TestConvert(t *testing.T) {
	cases := []struct{ style, in, want string }{
		{"upper", "hello world", "HELLO WORLD"},
		{"lower", "Hello WORLD", "hello world"},
		{"title", "the quick  BROWN fox", "The Quick  Brown Fox"},
		{"sentence", "HELLO there. how ARE you? fine!", "Hello there. How are you? Fine!"},
		{"slug", "Hello, World! 2024 édition", "hello-world-2024-édition"},
		{"snake", "Total Amount (EUR)", "total_amount_eur"},
		{"camel", "total amount due", "totalAmountDue"},
	}
	for _, c := range cases {
		got, err := Convert(c.in, c.style)
		if err != nil {
			t.Fatalf("%s: %v", c.style, err)
		}
		if got != c.want {
			t.Errorf("Convert(%q, %s) = %q, want %q", c.in, c.style, got, c.want)
		}
	}
	if _, err := Convert("x", "shout"); err == nil {
		t.Error("unknown style should fail")
	}
}

func TestRunArgsAndStdin(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"--case", "slug", "Hello,", "World!"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello-world\n" {
		t.Errorf("got %q", out.String())
	}
	out.Reset()
	if err := Run([]string{"--case", "upper"}, strings.NewReader("piped text\n"), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "PIPED TEXT\n" {
		t.Errorf("got %q", out.String())
	}
	if err := Run(nil, nil, &out); err == nil {
		t.Error("no input should fail")
	}
}
