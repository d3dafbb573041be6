package policy

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/policy/lambda"
)

// AWSLambda compiles the aws-lambda policy (API Connect 1.0.0), with API
// Connect's field names:
//
//	function_name: echo              name, name:alias, or ARN; $(…) allowed
//	aws_region: us-east-1
//	aws_assume_role_arn: arn:aws:iam::123456789012:role/invoker   STS AssumeRole,
//	                                 external ID = the provider org's ID (api.org.id)
//	aws_access_key_id: $(lambda-key-id)        or an access key pair, best as
//	aws_secret_access_key: $(lambda-secret)    references to catalog properties
//
// and Portico's additions: qualifier, invocation_type (RequestResponse,
// Event, DryRun), payload (body, or apigw-proxy for an API Gateway proxy
// event), timeout (seconds, default 60), aws_sts_endpoint and
// aws_lambda_endpoint. The work is done by package lambda; this reads the
// settings and reports what is wrong with them.
func AWSLambda(b *assembly.Builder, n apidef.Node) assembly.Policy {
	spec, ok := lambdaSpec(b, n)
	if !ok {
		return nil
	}
	return lambda.New(lambda.PoolFor(b.Env), spec)
}

// lambdaFields are the settings aws-lambda knows; others are reported, so
// that a misspelt credential field does not go unnoticed.
var lambdaFields = map[string]bool{"version": true, "title": true, "description": true,
	"function_name": true, "aws_region": true, "aws_assume_role_arn": true, "aws_access_key_id": true,
	"aws_secret_access_key": true, "qualifier": true, "invocation_type": true, "payload": true,
	"timeout": true, "aws_sts_endpoint": true, "aws_lambda_endpoint": true}

func lambdaSpec(b *assembly.Builder, n apidef.Node) (lambda.Spec, bool) {
	for _, k := range n.Keys() {
		if !lambdaFields[k] {
			b.Report(n.KeyNode(k).Warning(fmt.Sprintf("aws-lambda has no setting %q; it is ignored", k),
				"see docs/policies/serverless.md for the settings"))
		}
	}
	spec := lambda.Spec{
		Function:  lambdaRequired(b, n, "function_name", lambdaFunctionPattern, "write the function's name, name:alias or ARN"),
		Region:    lambdaRequired(b, n, "aws_region", lambdaRegionPattern, "write the region the function is in, e.g. us-east-1"),
		RoleARN:   lambdaOptional(b, n, "aws_assume_role_arn", lambdaRoleARNPattern, "write a role ARN, e.g. arn:aws:iam::123456789012:role/invoker"),
		Qualifier: lambdaOptional(b, n, "qualifier", lambdaQualifierPattern, "write a version number, an alias or $LATEST"),
	}
	ok := spec.Function != nil && spec.Region != nil
	ok = lambdaKeys(b, n, &spec) && ok
	ok = lambdaEndpoints(b, n, &spec) && ok
	ok = lambdaModes(b, n, &spec) && ok
	return spec, ok
}

var (
	// AWS's own pattern for FunctionName (with the qualifier optional).
	lambdaFunctionPattern  = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$`)
	lambdaRegionPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)
	lambdaRoleARNPattern   = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)
	lambdaQualifierPattern = regexp.MustCompile(`^(\$LATEST|[a-zA-Z0-9-_]+)$`)
	lambdaKeyIDPattern     = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// lambdaRequired reads a field that must be present.
func lambdaRequired(b *assembly.Builder, n apidef.Node, key string, pattern *regexp.Regexp, hint string) *assembly.Template {
	if strings.TrimSpace(n.Get(key).Str()) == "" {
		p := n.Get(key).Problem(fmt.Sprintf("aws-lambda needs %s", key), hint)
		if p.Line == 0 && n.Y != nil {
			p.Line, p.Column = n.Y.Line, n.Y.Column // locate a missing key at the policy
		}
		b.Report(p)
		return nil
	}
	return lambdaOptional(b, n, key, pattern, hint)
}

// lambdaOptional reads a field that may be absent (nil). A constant
// value is checked against pattern now; a $(…) reference when it is used.
func lambdaOptional(b *assembly.Builder, n apidef.Node, key string, pattern *regexp.Regexp, hint string) *assembly.Template {
	v := n.Get(key)
	if strings.TrimSpace(v.Str()) == "" {
		return nil
	}
	t := b.Template(v)
	if t.IsConst() && pattern != nil && !pattern.MatchString(strings.TrimSpace(t.Source())) {
		b.Report(v.Problem(fmt.Sprintf("%s %q is not valid", key, t.Source()), hint))
	}
	return t
}

// lambdaKeys reads the access key pair: both or neither. A secret written
// into the API itself is allowed but warned about.
func lambdaKeys(b *assembly.Builder, n apidef.Node, spec *lambda.Spec) bool {
	spec.AccessKeyID = lambdaOptional(b, n, "aws_access_key_id", lambdaKeyIDPattern, "write an access key ID such as AKIA…, or $(property)")
	spec.SecretAccessKey = lambdaOptional(b, n, "aws_secret_access_key", nil, "")
	if (spec.AccessKeyID == nil) != (spec.SecretAccessKey == nil) {
		b.Report(n.Problem("aws-lambda needs both aws_access_key_id and aws_secret_access_key, or neither",
			"give the pair (ideally as $(property) references to catalog properties), or use aws_assume_role_arn"))
		return false
	}
	if spec.SecretAccessKey != nil && spec.SecretAccessKey.IsConst() {
		b.Report(n.Get("aws_secret_access_key").Warning("the secret access key is written in the API document",
			"keep it out of the API: write $(lambda-secret) and define lambda-secret in catalog.yaml properties"))
	}
	return true
}

// lambdaEndpoints reads the endpoint overrides; without them the SDK's
// standard resolution applies (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_LAMBDA,
// AWS_ENDPOINT_URL, shared config).
func lambdaEndpoints(b *assembly.Builder, n apidef.Node, spec *lambda.Spec) bool {
	ok := true
	for _, f := range []struct {
		key string
		dst **assembly.Template
	}{{"aws_sts_endpoint", &spec.STSEndpoint}, {"aws_lambda_endpoint", &spec.LambdaEndpoint}} {
		t := lambdaOptional(b, n, f.key, nil, "")
		if t != nil && t.IsConst() {
			if u, err := url.Parse(t.Source()); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				b.Report(n.Get(f.key).Problem(fmt.Sprintf("%s %q is not an http or https URL", f.key, t.Source()),
					"write the endpoint's base URL, e.g. http://127.0.0.1:4566"))
				ok = false
			}
		}
		*f.dst = t
	}
	return ok
}

var lambdaInvocationTypes = map[string]types.InvocationType{
	"requestresponse": types.InvocationTypeRequestResponse, "request-response": types.InvocationTypeRequestResponse,
	"event": types.InvocationTypeEvent, "dryrun": types.InvocationTypeDryRun, "dry-run": types.InvocationTypeDryRun,
}

var lambdaPayloadModes = map[string]lambda.PayloadMode{"body": lambda.PayloadBody, "apigw-proxy": lambda.PayloadAPIGatewayProxy}

// lambdaModes reads invocation_type, payload and timeout.
func lambdaModes(b *assembly.Builder, n apidef.Node, spec *lambda.Spec) bool {
	ok := true
	if v := n.Get("invocation_type"); !v.IsNull() {
		it, known := lambdaInvocationTypes[strings.ToLower(strings.TrimSpace(v.Str()))]
		if !known {
			b.Report(v.Problemf("invocation_type %q is not one of RequestResponse, Event, DryRun", v.Str()))
			ok = false
		}
		spec.InvocationType = it
	}
	if v := n.Get("payload"); !v.IsNull() {
		mode, known := lambdaPayloadModes[strings.ToLower(strings.TrimSpace(v.Str()))]
		if !known {
			b.Report(v.Problemf("payload %q is not body or apigw-proxy", v.Str()))
			ok = false
		}
		spec.Payload = mode
	}
	secs, p := n.Int("timeout", 60)
	if p != nil {
		b.Report(*p)
		ok = false
	}
	if secs > 0 {
		spec.Timeout = time.Duration(secs) * time.Second
	}
	return ok
}
