/**
 * The only way the page builds DOM: elements with text content. Values from Redis never
 * pass through innerHTML or any other HTML parser (the server's CSP also requires Trusted
 * Types, so a string assigned to innerHTML would throw).
 */

/**
 * @param {string} tag
 * @param {{ className?: string, text?: string, title?: string }} [props]
 * @param {(Node | string)[]} [children] strings become text nodes
 */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  if (props.title !== undefined) node.title = props.title;
  node.append(...children);
  return node;
}

/** Sets the text of a node only when it changed (keeps a 550-row table cheap to update). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function clear(node) {
  node.replaceChildren();
}

export function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`page element #${id} missing`);
  return node;
}
