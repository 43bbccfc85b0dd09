import type { Channel, OutgoingMessage, SendOutcome } from "./channel";

/** A project's email sender, set by `PUT /v1/admin/projects/{id}/channels/email`. */
export interface EmailSender {
  from: string;
  name?: string;
  reply_to?: string;
}

/**
 * Cloudflare Email Service through the `send_email` binding: one message to one address, from
 * the project's sender. The message's `email` part (subject, text, html) is the content; without
 * it, the push title is the subject and the body the text. The binding throws on refusal: that
 * is an error, not a retry (Email Service retries delivery itself).
 */
export class EmailChannel implements Channel {
  constructor(
    private readonly binding: Pick<SendEmail, "send">,
    private readonly sender: EmailSender,
  ) {}

  async send(address: string, message: OutgoingMessage): Promise<SendOutcome> {
    const subject = message.email?.subject ?? message.title;
    const text = message.email?.text ?? (message.email?.html ? undefined : message.body);
    try {
      await this.binding.send({
        from: this.sender.name ? { email: this.sender.from, name: this.sender.name } : this.sender.from,
        to: address,
        subject,
        ...(text === undefined ? {} : { text }),
        ...(message.email?.html ? { html: message.email.html } : {}),
        ...(this.sender.reply_to ? { replyTo: this.sender.reply_to } : {}),
      });
      return { status: "sent" };
    } catch (error) {
      return { status: "error", reason: `email: ${String(error).slice(0, 200)}` };
    }
  }
}
