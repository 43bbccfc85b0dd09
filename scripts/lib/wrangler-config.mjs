// wrangler.toml as wrangler itself reads it (its bundled TOML parser, through its public
// `experimental_readRawConfig`), so the scripts never parse TOML by hand.
import { experimental_readRawConfig } from "wrangler";

/** The raw configuration of wrangler.toml in `dir` (default: the working directory). */
export function readWranglerToml(dir = ".") {
  return experimental_readRawConfig({ config: `${dir}/wrangler.toml` }).rawConfig;
}
