package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// describePolicies shows who may call the Component's APIs and what the
// gateway enforces on each: the policy.Spec translate writes for it.
func describePolicies(w io.Writer, c *oda.Component) error {
	fmt.Fprintln(w, "\nIdentity:")
	sec := c.Spec.SecurityFunction
	provider := "none reported"
	if st := c.Status; st != nil && st.IdentityConfig != nil && st.IdentityConfig.IdentityProvider != "" {
		provider = st.IdentityConfig.IdentityProvider
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if sec == nil {
		fmt.Fprintln(tw, "  Guarded:\tno (no securityFunction): its APIs answer without a token")
	} else {
		var roles []string
		for _, r := range sec.ComponentRole {
			roles = append(roles, r.Name)
		}
		fmt.Fprintf(tw, "  Guarded:\tyes: every exposed API but metrics needs a bearer token holding one of the roles below\n")
		fmt.Fprintf(tw, "  Canvas System Role:\t%s\n", orNone(sec.CanvasSystemRole))
		fmt.Fprintf(tw, "  Component Roles:\t%s\n", orNone(strings.Join(roles, ", ")))
		fmt.Fprintf(tw, "  Identity Provider:\t%s\n", provider)
		// What the canvas registered (status), not what the spec asks for.
		if st := c.Status; st != nil && st.IdentityConfig != nil {
			ic := st.IdentityConfig
			fmt.Fprintf(tw, "  Issuer:\t%s\n", orNone(ic.Issuer))
			fmt.Fprintf(tw, "  Client ID:\t%s (the audience of its APIs' tokens)\n", orNone(ic.ClientID))
			fmt.Fprintf(tw, "  Registered Roles:\t%s\n", orNone(strings.Join(ic.Roles, ", ")))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	exposed := c.Spec.ExposedAPIsByFunction()
	if len(exposed[0])+len(exposed[1])+len(exposed[2]) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nAPI Policies:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  API\tPOLICY\tSETTING")
	bases := [3]string{"spec.coreFunction.exposedAPIs", "spec.managementFunction.exposedAPIs", "spec.securityFunction.exposedAPIs"}
	for fn, list := range exposed {
		for i := range list {
			spec, err := policy.ForAPI(c, &list[i], fmt.Sprintf("%s[%d]", bases[fn], i))
			rows := policyRows(spec)
			if err != nil {
				rows = [][2]string{{"invalid", err.Error()}}
			}
			if len(rows) == 0 {
				rows = [][2]string{{"none", "served to anyone who reaches the gateway"}}
			}
			name := list[i].Name
			for _, r := range rows {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, r[0], r[1])
				name = ""
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "  canvas up's gateway enforces these; on a wasmCloud lattice they are written in the manifest and not enforced by the http-server provider.")
	return nil
}

func policyRows(s policy.Spec) [][2]string {
	var rows [][2]string
	add := func(k, v string) { rows = append(rows, [2]string{k, v}) }
	if g := s.Guard; g != nil {
		add("guard", "bearer token with one of: "+orNone(strings.Join(g.Roles, ", ")))
	}
	if k := s.APIKey; k != nil {
		where := "header or query parameter"
		if k.In != "" {
			where = k.In
		}
		add("apiKey", fmt.Sprintf("%s %q (canvas apikey create)", where, k.Name))
	}
	if r := s.RateLimit; r != nil {
		per := "second"
		if r.Interval.Minutes() == 1 {
			per = "minute"
		}
		add("rateLimit", fmt.Sprintf("%d per %s by %s", r.Limit, per, identifierText(r.By)))
	}
	if q := s.Quota; q != nil {
		add("quota", fmt.Sprintf("%d in all by %s", q.Limit, identifierText(q.By)))
	}
	if o := s.OAS; o != nil {
		var what, allowed []string
		if o.Request {
			what = append(what, "requests")
		}
		if o.Response {
			what = append(what, "responses")
		}
		for _, a := range []struct {
			name string
			ok   bool
		}{{"headers", o.AllowUnspecifiedHeaders}, {"query parameters", o.AllowUnspecifiedQueryParams}, {"cookies", o.AllowUnspecifiedCookies}} {
			if a.ok {
				allowed = append(allowed, a.name)
			}
		}
		extra := "; unspecified headers, query parameters and cookies refused"
		if len(allowed) > 0 {
			extra = "; unspecified allowed: " + strings.Join(allowed, ", ")
		}
		add("OASValidation", fmt.Sprintf("%s against %s%s", strings.Join(what, " and "), o.Document, extra))
	}
	if c := s.CORS; c != nil {
		v := "origins " + strings.Join(c.AllowOrigins, ", ")
		if c.AllowCredentials {
			v += "; credentials"
		}
		if p := c.Preflight; p != nil {
			v += fmt.Sprintf("; preflight %s, max-age %ds", strings.Join(p.AllowMethods, ", "), p.MaxAge)
		}
		add("CORS", v)
	}
	return rows
}

func identifierText(id policy.Identifier) string {
	if id.Kind == policy.ByHeader {
		return "header " + id.Header
	}
	return id.Kind
}
