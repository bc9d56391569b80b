// The bounds every revocable identifier (sub, sid, jti, client id) meets: one rule for the exchange, the admin API and
// the verify SDK, so whatever the exchange accepts can be revoked. The rule itself lives in the SDK package.
export { IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH, isIdentifier } from 'delegation-token-verify';
