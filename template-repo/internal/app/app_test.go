package app

import (
	"strings"
	"testing"
)

func TestParseDefaultsAndValidation(t *testing.T) {
	m, err := Parse([]byte(`{"name":"tip-calc","title":"Tip calculator","description":"Split the bill."}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "0.1.0" || m.ArtifactType != ArtifactBoth {
		t.Errorf("defaults not applied: %+v", m)
	}
	bad := []string{
		`{"name":"../evil","title":"x"}`,
		`{"name":"Tip","title":"x"}`,
		`{"name":"-tip","title":"x"}`,
		`{"name":"tip","title":""}`,
		`{"name":"tip","title":"a\nb"}`,
		`{"name":"tip","title":"x","artifact_type":"apk"}`,
		`{"name":"tip","title":"x","platforms":["plan9-386"]}`,
		`{"name":"tip","title":"x","version":"1.0 && rm"}`,
		`{"name":"tip","title":"` + strings.Repeat("x", 81) + `"}`,
		`not json`,
	}
	for _, b := range bad {
		if _, err := Parse([]byte(b)); err == nil {
			t.Errorf("Parse(%s) should fail", b)
		}
	}
}

func TestRenderPageEscapes(t *testing.T) {
	m := Meta{Title: `<b>"Tips" & 'more'</b>`, Description: "<img src=x onerror=alert(1)>"}
	got := string(RenderPage([]byte("<h1>{{APP_TITLE}}</h1><p>{{APP_DESCRIPTION}}</p><small>{{APP_VERSION}}</small>"), m, "1.2.3"))
	want := "<h1>&lt;b&gt;&#34;Tips&#34; &amp; &#39;more&#39;&lt;/b&gt;</h1><p>&lt;img src=x onerror=alert(1)&gt;</p><small>1.2.3</small>"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
