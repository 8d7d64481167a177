import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { acknowledge } from '#infra/nag.ts';
import { CALLERS, type Caller, type Scope } from '#shared/flows/registry.ts';

export interface CallerPoolProps {
  /** Physical name prefix, e.g. `dacs-derms-dev`. */
  readonly prefix: string;
  /**
   * Cognito domain prefix for the token endpoint.
   * @default `<prefix>-<account id>`
   */
  readonly domainPrefix?: string;
  /**
   * A custom domain for the token endpoint, with an ACM certificate in us-east-1 (Cognito serves it
   * through CloudFront). The prefix domain stays, so the endpoint callers already use keeps working.
   * @default none: the prefix domain only
   */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
  /**
   * Keep the user pool (and so the issued client ids) when the stack is deleted; deletion protection on.
   * @default false
   */
  readonly retain?: boolean;
}

/** The resource server identifier: the part before `/` of every caller scope (`integration`). */
const RESOURCE_SERVER_ID = (() => {
  const ids = new Set(Object.values(CALLERS).map((scope) => scope.split('/')[0]));
  if (ids.size !== 1) throw new Error('Every caller scope must share one resource server identifier');
  return [...ids][0] as string;
})();

/**
 * The callers' Cognito user pool, machine to machine only (no user signs in): a resource server holding
 * one scope per caller of the flow registry (`CALLERS`), one client-credentials app client per caller
 * granted its own scope only, and the domain that serves the token endpoint.
 *
 * The user pool is created in `scope`, beside this construct rather than under it, so that it keeps the
 * logical ID it had before this construct was split out of {@link IntegrationApi}: a new logical ID would
 * replace the pool on deploy, and with it every client id and secret the callers hold. The resource
 * server, the clients and the domain hang off the pool.
 */
export class CallerPool extends Construct {
  public readonly userPool: cognito.UserPool;
  public readonly resourceServer: cognito.UserPoolResourceServer;
  /** One app client per caller, keyed like `CALLERS`. */
  public readonly clients: Readonly<Record<Caller, cognito.UserPoolClient>>;
  public readonly domain: cognito.UserPoolDomain;
  /** The custom token domain, when one is configured. */
  public readonly customDomain?: cognito.UserPoolDomain;

  private readonly oauthScopes: Readonly<Record<string, cognito.OAuthScope>>;

  constructor(scope: Construct, id: string, props: CallerPoolProps) {
    super(scope, id);
    this.userPool = createUserPool(scope, props);
    this.resourceServer = addResourceServer(this.userPool, props.prefix);
    // Literal scope strings (not resource-server tokens) so the template states exactly what each client
    // may ask for; the explicit dependency keeps the scopes created before the clients that use them.
    this.oauthScopes = Object.fromEntries(
      Object.values(CALLERS).map((s) => [s, cognito.OAuthScope.custom(s)]),
    );
    this.clients = Object.fromEntries(
      (Object.keys(CALLERS) as Caller[]).map((caller) => [
        caller,
        addCallerClient(this.userPool, props.prefix, caller, this.oauthScope(CALLERS[caller])),
      ]),
    ) as Record<Caller, cognito.UserPoolClient>;
    for (const client of Object.values(this.clients)) client.node.addDependency(this.resourceServer);
    this.domain = this.userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: props.domainPrefix ?? `${props.prefix}-${Aws.ACCOUNT_ID}` },
    });
    if (props.customDomain) {
      const { domainName, certificateArn } = props.customDomain;
      this.customDomain = this.userPool.addDomain('CustomDomain', {
        customDomain: {
          domainName,
          certificate: acm.Certificate.fromCertificateArn(this, 'TokenDomainCertificate', certificateArn),
        },
      });
    }
  }

  /** The OAuth scope object for a caller's scope, e.g. for extra clients. */
  public oauthScope(scope: Scope): cognito.OAuthScope {
    return this.oauthScopes[scope]!;
  }

  /** The Cognito token endpoint callers post `grant_type=client_credentials` to (the custom domain's, if any). */
  public get tokenUrl(): string {
    return `${(this.customDomain ?? this.domain).baseUrl()}/oauth2/token`;
  }

  /** The app client ids of every caller, in `CALLERS` order. */
  public get clientIds(): string[] {
    return (Object.keys(CALLERS) as Caller[]).map((caller) => this.clients[caller].userPoolClientId);
  }
}

function createUserPool(scope: Construct, props: CallerPoolProps): cognito.UserPool {
  const userPool = new cognito.UserPool(scope, 'UserPool', {
    userPoolName: `${props.prefix}-callers`,
    selfSignUpEnabled: false,
    signInAliases: { username: true },
    passwordPolicy: {
      minLength: 14,
      requireLowercase: true,
      requireUppercase: true,
      requireDigits: true,
      requireSymbols: true,
      tempPasswordValidity: Duration.days(1),
    },
    mfa: cognito.Mfa.REQUIRED,
    mfaSecondFactor: { sms: false, otp: true },
    accountRecovery: cognito.AccountRecovery.NONE,
    deletionProtection: props.retain ?? false,
    removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  acknowledge(
    userPool,
    'AwsSolutions-COG8',
    'The pool has no users: callers are machine clients using the client-credentials grant, which the ' +
      'threat protection of the Plus plan does not evaluate. Plus would add cost without protecting anything.',
  );
  return userPool;
}

/** One scope per caller: `integration/dacs` → scope `dacs` on the `integration` resource server. */
function addResourceServer(userPool: cognito.UserPool, prefix: string): cognito.UserPoolResourceServer {
  const names = new Set(Object.values(CALLERS).map((s) => s.split('/')[1] as string));
  const scopes = [...names].map(
    (name) => new cognito.ResourceServerScope({ scopeName: name, scopeDescription: `${name} caller` }),
  );
  return userPool.addResourceServer('ResourceServer', {
    identifier: RESOURCE_SERVER_ID,
    userPoolResourceServerName: `${prefix}-integration`,
    scopes,
  });
}

/** A client-credentials app client with a secret, allowed to ask for its caller's scope only. */
function addCallerClient(
  userPool: cognito.UserPool,
  prefix: string,
  caller: Caller,
  scope: cognito.OAuthScope,
): cognito.UserPoolClient {
  return userPool.addClient(`${caller}Client`, {
    userPoolClientName: `${prefix}-${caller}`,
    generateSecret: true,
    authFlows: {},
    oAuth: { flows: { clientCredentials: true }, scopes: [scope] },
    accessTokenValidity: Duration.hours(1),
    enableTokenRevocation: true,
    preventUserExistenceErrors: true,
  });
}
