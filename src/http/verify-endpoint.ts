import { z } from 'zod';
import { MAX_LIMIT } from '../domain/limits.ts';
import { SCOPE_PATTERN } from '../domain/scopes.ts';
import { AppError, isAppError } from '../errors/index.ts';
import type { VerifyAnswer, VerificationService } from '../services/authentication/verification-service.ts';
import { appErrorReply, type ResourceServerEndpoint } from './resource-server-handler.ts';
import { validate } from './validate.ts';

export const VERIFY_PATH = '/v1/verify';

const verifyBody = z
  .object({
    token: z.string({ message: 'must be a string' }).max(4096, 'must be at most 4096 characters'),
    cost: z.number({ message: 'must be a whole number of credits' }).int('must be a whole number of credits').min(0, 'must not be negative').max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`).optional(),
    required_scopes: z.array(z.string().regex(SCOPE_PATTERN, 'must be a list of scope strings'), { message: 'must be a list of scope strings' }).max(100).optional(),
  })
  .strict();

type VerifyRequest = z.infer<typeof verifyBody>;

/**
 * POST /v1/verify: JSON `{token, cost?, required_scopes?}`, from a resource server authenticated
 * with HTTP Basic as at introspection. 200 with the answer for any authenticated caller; a body
 * that is not one is 400 naming the field, and nothing is counted.
 */
export function verifyEndpoint(verification: VerificationService): ResourceServerEndpoint<VerifyRequest> {
  return {
    path: VERIFY_PATH,
    accepts: /^application\/json\b/i,
    expects: 'Content-Type must be application/json',
    parse: (raw) => {
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        return { reply: appErrorReply(new AppError('BAD_REQUEST', 'Request body is not valid JSON')) };
      }
      try {
        return validate(verifyBody, body);
      } catch (error) {
        if (isAppError(error)) return { reply: appErrorReply(error) };
        throw error;
      }
    },
    credentialsIn: () => null,
    answer: (client, request) => {
      const answer = verification.verify(client, { token: request.token, cost: request.cost ?? 0, requiredScopes: request.required_scopes ?? [] });
      return answer instanceof Promise ? answer.then(reply) : reply(answer);
    },
  };
}

const reply = (answer: VerifyAnswer) => ({ status: 200, body: JSON.stringify(answer) });
