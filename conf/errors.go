package conf

import "github.com/gatehouse/gatehouse/schemas"

// Error is one problem in a configuration file, FILE:LINE: ELEMENT: MSG.
type Error = schemas.FileError

// Errors is every problem Load found, ordered by line. Load returns it as
// its error so that a caller can print all problems at once.
type Errors = schemas.FileErrors
