/**
 * The text of the mails pgauth sends. The link carries the token in its fragment (`#token=`),
 * which browsers never send to a server nor put in a Referer: the page at the link reads it and
 * posts it to POST /v1/email/verify or POST /v1/password/reset.
 */

export type MailKind = 'verify_email' | 'password_reset';

/** A message claimed from the outbox, with its link token (pgauth.mail_claim). */
export interface ClaimedMail {
  id: string;
  kind: MailKind;
  toAddress: string;
  username: string;
  token: string;
  expiresAt: Date;
  attempt: number;
}

export interface ComposedMail {
  to: string;
  subject: string;
  text: string;
}

/** Where each kind of link points, under --public-url. */
export const LINK_PATHS: Readonly<Record<MailKind, string>> = {
  verify_email: '/verify-email',
  password_reset: '/reset-password',
};

/** The link of a message: the public URL, the page of its kind, the token in the fragment. */
export function linkOf(publicUrl: string, kind: MailKind, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${LINK_PATHS[kind]}#token=${encodeURIComponent(token)}`;
}

export function composeMail(mail: ClaimedMail, publicUrl: string): ComposedMail {
  const link = linkOf(publicUrl, mail.kind, mail.token);
  const until = mail.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (mail.kind === 'verify_email') {
    return {
      to: mail.toAddress,
      subject: 'Verify your email address',
      text: `Hello ${mail.username},\n\nTo confirm that this address belongs to your account, open this link:\n\n${link}\n\nIt works once, until ${until} (UTC). If you did not ask for this, ignore this mail.\n`,
    };
  }
  return {
    to: mail.toAddress,
    subject: 'Reset your password',
    text: `Hello ${mail.username},\n\nSomebody (you, we hope) asked to reset the password of your account. To choose a new password, open this link:\n\n${link}\n\nIt works once, until ${until} (UTC), and signs you out everywhere. If you did not ask for this, ignore this mail: your password stays as it is.\n`,
  };
}
