package oda

import "testing"

func TestRoleAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		apis []string
		want string
	}{
		{nil, ""},
		{[]string{"productcatalog"}, ""},
		{[]string{"userrolesandpermissions", "PartyRole"}, "PartyRole"},
		{[]string{"partyrolemanagement"}, "partyrolemanagement"},
		{[]string{"UserRolesAndPermissions"}, "UserRolesAndPermissions"},
	} {
		c := &Component{}
		c.Spec.SecurityFunction = &SecurityFunction{}
		for _, n := range tc.apis {
			c.Spec.SecurityFunction.ExposedAPIs = append(c.Spec.SecurityFunction.ExposedAPIs, ExposedAPI{Name: n})
		}
		api, ok := RoleAPI(c)
		if ok != (tc.want != "") || api.Name != tc.want {
			t.Errorf("%v: %q %v, want %q", tc.apis, api.Name, ok, tc.want)
		}
	}
	if _, ok := RoleAPI(&Component{}); ok {
		t.Error("a Component without securityFunction has a role API")
	}
}
