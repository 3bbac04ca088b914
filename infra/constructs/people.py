"""The people who sign in: agents, supervisors and admins, in one Cognito user pool."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.constructs.nag import acknowledge

# The groups the agent API authorises on (the `cognito:groups` claim); lower precedence wins.
GROUPS = ("admin", "supervisor", "agent")


class People(Construct):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            # Staff accounts are created by an admin, never by whoever finds the sign-up page.
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            # Agents see customers' names, email and phone: a second factor is required.
            # TOTP only, no SMS: nothing to pay per sign-in and no SIM-swap exposure.
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            removal_policy=RemovalPolicy.RETAIN,
        )
        no_plus = (
            "Threat protection (compromised credentials, adaptive authentication) needs the Plus "
            "feature plan, billed per monthly active user. The pool holds only staff accounts that "
            "admins create (no self sign-up), with a 12-character password and TOTP MFA required."
        )
        acknowledge(self.user_pool, "AwsSolutions-COG8", no_plus)
        for precedence, group in enumerate(GROUPS):
            cognito.CfnUserPoolGroup(
                self,
                f"{group.capitalize()}Group",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group,
                precedence=precedence,
                description=f"ticketflow {group}s",
            )
        # A public client (a browser or the CLI): no secret, SRP only, no plain passwords on the wire.
        self.client = self.user_pool.add_client(
            "Client",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
        )
