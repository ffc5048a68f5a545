package oda

import "strings"

// RoleAPI picks, as the reference's component operator does, the first
// security exposed API whose name contains "partyrole", else
// "userrolesandpermissions" (case-insensitive); ok is false when c has
// neither.
func RoleAPI(c *Component) (api ExposedAPI, ok bool) {
	sf := c.Spec.SecurityFunction
	if sf == nil {
		return api, false
	}
	for _, want := range []string{"partyrole", "userrolesandpermissions"} {
		for _, a := range sf.ExposedAPIs {
			if strings.Contains(strings.ToLower(a.Name), want) {
				return a, true
			}
		}
	}
	return api, false
}
