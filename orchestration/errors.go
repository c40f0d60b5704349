package orchestration

import "github.com/gatehouse/gatehouse/schemas"

// Error is one problem in a composite definition, FILE:LINE: ELEMENT: MSG.
type Error = schemas.FileError

// Errors is every problem Load found, ordered by line.
type Errors = schemas.FileErrors
