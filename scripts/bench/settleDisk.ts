import { spawnSync } from "node:child_process"

/**
 * Writes back the page cache before a measured run. Each output case writes hundreds of MiB; without
 * this, the next run (tee or ours) pays for the previous one's writeback and the kernel's throttling
 * of dirty pages, and which of the two pays depends only on the order they ran in.
 */
export const settleDisk = (): void => {
  spawnSync("sync")
}
