package tool

import (
	"bytes"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	cases := []struct {
		in       string
		url, pad bool
		want     string
	}{
		{"hello world", false, true, "aGVsbG8gd29ybGQ="},
		{"", false, true, ""},
		{"\xfb\xff\xfe", false, true, "+//+"},
		{"\xfb\xff\xfe", true, true, "-__-"},
		{"héllo", false, false, "aMOpbGxv"},
		{"ab", false, false, "YWI"},
	}
	for _, c := range cases {
		if got := Encode([]byte(c.in), c.url, c.pad); got != c.want {
			t.Errorf("Encode(%q, url=%v, pad=%v) = %q, want %q", c.in, c.url, c.pad, got, c.want)
		}
	}
}

func TestDecode(t *testing.T) {
	ok := map[string]string{
		"aGVsbG8gd29ybGQ=": "hello world", "aGVsbG8gd29ybGQ": "hello world", "aGVs\nbG8g d29y bGQ=": "hello world",
		"-__-": "\xfb\xff\xfe", "+//+": "\xfb\xff\xfe", "YWI=": "ab", "YWI": "ab",
	}
	for in, want := range ok {
		got, err := Decode(in)
		if err != nil || string(got) != want {
			t.Errorf("Decode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "aGVsbG8*", "YWI===", "YW=I"} {
		if got, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) = %q, want an error", bad, got)
		}
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run([]string{"encode", "hello", "world"}, nil, &out); err != nil || out.String() != "aGVsbG8gd29ybGQ=\n" {
		t.Errorf("encode: %v %q", err, out.String())
	}
	out.Reset()
	if err := Run([]string{"decode", "aGVsbG8gd29ybGQ="}, nil, &out); err != nil || out.String() != "hello world\n" {
		t.Errorf("decode: %v %q", err, out.String())
	}
	out.Reset()
	if err := Run(nil, strings.NewReader("hello\n"), &out); err != nil || out.String() != "aGVsbG8K\n" {
		t.Errorf("stdin encode: %v %q", err, out.String())
	}
	out.Reset()
	if err := Run([]string{"--url", "--no-padding", "\xfb\xff"}, nil, &out); err != nil || out.String() != "-_8\n" {
		t.Errorf("url: %v %q", err, out.String())
	}
	if err := Run([]string{"decode", "***"}, nil, &out); err == nil {
		t.Error("invalid input should fail")
	}
}
