// The model tree as an interactive graph: @xyflow/react for pan/zoom/select, dagre for layout.
// Each edge is labelled with its relation; verified edges are solid, claimed edges dashed with
// the reason on hover. Nodes show name, kind and seeders. Only visible elements are rendered,
// so a few hundred nodes stay responsive.
import { memo, useCallback, useEffect, useMemo, useRef } from 'react'
import {
  Background,
  BaseEdge,
  Controls,
  EdgeLabelRenderer,
  Handle,
  MarkerType,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  getBezierPath,
  getSmoothStepPath,
  useEdgesState,
  useNodesState,
  useReactFlow,
  type Edge,
  type EdgeProps,
  type Node,
  type NodeProps,
  type OnSelectionChangeParams
} from '@xyflow/react'
import '@xyflow/react/dist/style.css'
import type { LineageGraph as Graph } from '../../../shared/api.js'
import { NODE_HEIGHT, NODE_WIDTH, layoutLineage, type Direction } from '../lineage-layout.js'

type GraphNode = Graph['nodes'][number]
type GraphEdge = Graph['edges'][number]

type NodeData = { node: GraphNode; direction: Direction }
/** `elbow`: big graphs draw right-angled edges that share a trunk, labelled at the child's end. */
type EdgeData = { edge: GraphEdge; elbow: boolean }
type LNode = Node<NodeData, 'lineage'>
type LEdge = Edge<EdgeData, 'relation'>

export type Selection = { kind: 'node'; id: string } | { kind: 'edge'; id: string } | null

export function edgeId(e: Pick<GraphEdge, 'parent' | 'child'>): string {
  return `${e.parent}=>${e.child}`
}

export const REASON_TEXT: Record<string, string> = {
  'parent-unknown': 'the parent is not in the catalog',
  'hash-differs': 'the parent’s weights hash differs from the one the child names',
  'no-parent-hash': 'the child names the parent without a weights hash',
  'parent-relayed': 'the parent’s manifest was only relayed by peers',
  'child-relayed': 'the child’s manifest was only relayed by peers',
  'name-only': 'only named in the model card or GGUF, by name',
  'ambiguous-name': 'several models share the name it gives'
}

export function edgeTooltip(e: GraphEdge): string {
  if (e.verified) return `${e.relation} — verified: the child names the parent’s weights sha256 and it matches the parent’s own manifest`
  return `${e.relation} — claimed, not verified: ${e.detail ?? REASON_TEXT[e.reason ?? ''] ?? 'no hash to check'}`
}

const LineageNodeView = memo(function LineageNodeView({ data, selected }: NodeProps<LNode>) {
  const n = data.node
  const horizontal = data.direction === 'LR'
  return (
    <div
      className={`lnode role-${n.role}${n.missing ? ' missing' : ''}${selected ? ' selected' : ''}`}
      data-testid="lineage-node"
      data-link={n.link}
      title={n.missing ? `${n.name || n.link} — not in the catalog` : `${n.name} (${n.kind ?? 'unknown'}) — ${n.seeders} seeders`}
    >
      <Handle type="target" position={horizontal ? Position.Left : Position.Top} isConnectable={false} />
      <div className="lnode-name">{n.name || n.link}</div>
      <div className="lnode-meta">
        {n.missing ? (
          <span className="lnode-missing">not in catalog</span>
        ) : (
          <>
            <span className={`lnode-kind kind-${n.kind ?? 'unknown'}`}>{n.kind ?? 'unknown'}</span>
            <span className={`lnode-seeders${n.seeders === 0 ? ' none' : ''}`}>
              <span className="dot" aria-hidden="true" />
              {n.seeders}
            </span>
            {n.local && <span className="lnode-local">in library</span>}
          </>
        )}
      </div>
      <Handle type="source" position={horizontal ? Position.Right : Position.Bottom} isConnectable={false} />
    </div>
  )
})

const RelationEdge = memo(function RelationEdge(props: EdgeProps<LEdge>) {
  const { sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, markerEnd, selected } = props
  const e = data?.edge
  if (!e) return null
  const [path, midX, midY] = data.elbow
    ? getSmoothStepPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, borderRadius: 8 })
    : getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition })
  let [labelX, labelY] = [midX, midY]
  if (data.elbow) {
    // Many edges share the trunk: put each label on its own last stretch, just before the child.
    if (targetPosition === Position.Left) [labelX, labelY] = [targetX - 48, targetY]
    else [labelX, labelY] = [targetX, targetY - 24]
  }
  const tip = edgeTooltip(e)
  return (
    <>
      <g>
        <title>{tip}</title>
        <BaseEdge
          path={path}
          markerEnd={markerEnd}
          interactionWidth={16}
          className={`ledge ${e.verified ? 'verified' : 'claimed'}${selected ? ' selected' : ''}`}
          style={e.verified ? undefined : { strokeDasharray: '6 4' }}
        />
      </g>
      <EdgeLabelRenderer>
        <div
          className={`ledge-label nopan ${e.verified ? 'verified' : 'claimed'}${selected ? ' selected' : ''}`}
          style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
          title={tip}
          data-testid="lineage-edge"
          data-parent={e.parent}
          data-child={e.child}
          data-relation={e.relation}
          data-verified={String(e.verified)}
        >
          {e.relation}
          {!e.verified && <span className="ledge-claimed"> · claimed</span>}
        </div>
      </EdgeLabelRenderer>
    </>
  )
})

// Arrowheads are SVG markers outside the CSS cascade: their colours match .ledge in styles.css.
const VERIFIED_COLOR = '#2f7d57'
const CLAIMED_COLOR = '#b07512'

/** Graphs bigger than this draw elbow edges. */
const ELBOW_THRESHOLD = 60

const nodeTypes = { lineage: LineageNodeView }

function minimapColor(node: LNode): string {
  const n = node.data.node
  return n.role === 'root' ? '#2f7d57' : n.missing ? '#c9cec9' : n.kind === 'adapter' ? '#a883cc' : '#7aa6cf'
}
const edgeTypes = { relation: RelationEdge }

interface Props {
  graph: Graph
  direction?: Direction
  selection?: Selection
  onSelect?: (selection: Selection) => void
  minimap?: boolean
  className?: string
}

export function LineageGraph({ graph, direction = 'TB', selection = null, onSelect, minimap = true, className }: Props) {
  const initialSelection = selection
  const placed = useMemo(() => layoutLineage(graph, direction), [graph, direction])
  const flow = useMemo(() => {
    const initialNodes: LNode[] = graph.nodes.map((n) => ({
      id: n.link,
      type: 'lineage',
      position: placed.get(n.link) ?? { x: 0, y: 0 },
      data: { node: n, direction },
      // Known sizes: React Flow can place edges and skip off-screen nodes without measuring them.
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      draggable: false,
      connectable: false,
      selected: initialSelection?.kind === 'node' && initialSelection.id === n.link,
      ariaLabel: `${n.name || n.link}, ${n.missing ? 'not in the catalog' : `${n.kind ?? 'unknown'}, ${n.seeders} seeders`}${n.role === 'root' ? ', the model this tree is about' : ''}`
    }))
    const known = new Set(graph.nodes.map((n) => n.link))
    const initialEdges: LEdge[] = graph.edges
      .filter((e) => known.has(e.parent) && known.has(e.child))
      .map((e) => ({
        id: edgeId(e),
        type: 'relation',
        source: e.parent,
        target: e.child,
        data: { edge: e, elbow: graph.nodes.length > ELBOW_THRESHOLD },
        markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16, color: e.verified ? VERIFIED_COLOR : CLAIMED_COLOR },
        ariaLabel: `${e.relation} from ${e.parent} to ${e.child}, ${e.verified ? 'verified' : 'claimed'}`
      }))
    return { initialNodes, initialEdges }
    // The selection is applied when a graph is laid out; later changes flow through the flow's own state.
  }, [graph, direction, placed])

  return (
    <div className={`lineage-canvas ${className ?? ''}`} data-testid="lineage-graph">
      <ReactFlowProvider key={`${graph.root}:${direction}:${graph.nodes.length}:${graph.edges.length}`}>
        <Flow initialNodes={flow.initialNodes} initialEdges={flow.initialEdges} focus={graph.root} selection={selection} onSelect={onSelect} minimap={minimap && graph.nodes.length > 12} big={graph.nodes.length > 60} />
      </ReactFlowProvider>
    </div>
  )
}

interface FlowProps {
  initialNodes: LNode[]
  initialEdges: LEdge[]
  /** The node to start on when the whole graph is too big to read at once. */
  focus: string
  selection: Selection
  onSelect?: (s: Selection) => void
  minimap: boolean
  big: boolean
}

function Flow({ initialNodes, initialEdges, focus, selection, onSelect, minimap, big }: FlowProps) {
  const [nodes, setNodes, onNodesChange] = useNodesState<LNode>(initialNodes)
  const [edges, setEdges, onEdgesChange] = useEdgesState<LEdge>(initialEdges)
  const flow = useReactFlow<LNode, LEdge>()
  // The selection the graph already shows (the initial one is set on the nodes themselves).
  const internal = useRef<string | null>(selection ? `${selection.kind}:${selection.id}` : null)

  // A selection made outside the graph (the side panel) is shown here and scrolled into view.
  useEffect(() => {
    if (!selection) return
    const key = `${selection.kind}:${selection.id}`
    if (internal.current === key) return
    internal.current = key
    setNodes((ns) => ns.map((n) => (n.selected === (selection.kind === 'node' && n.id === selection.id) ? n : { ...n, selected: !n.selected })))
    setEdges((es) => es.map((e) => (e.selected === (selection.kind === 'edge' && e.id === selection.id) ? e : { ...e, selected: !e.selected })))
    const target = selection.kind === 'node' ? flow.getNode(selection.id) : flow.getNode(flow.getEdge(selection.id)?.target ?? '')
    if (target) void flow.setCenter(target.position.x + NODE_WIDTH / 2, target.position.y + NODE_HEIGHT / 2, { zoom: Math.max(flow.getZoom(), 0.6), duration: 250 })
  }, [selection, setNodes, setEdges, flow])

  const onSelectionChange = useCallback(
    ({ nodes: ns, edges: es }: OnSelectionChangeParams<LNode, LEdge>) => {
      if (!onSelect) return
      const n = ns[0]
      const e = es[0]
      const next: Selection = n ? { kind: 'node', id: n.id } : e ? { kind: 'edge', id: e.id } : null
      if (!next) return
      internal.current = `${next.kind}:${next.id}`
      onSelect(next)
    },
    [onSelect]
  )

  return (
    <ReactFlow<LNode, LEdge>
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      edgeTypes={edgeTypes}
      onNodesChange={onNodesChange}
      onEdgesChange={onEdgesChange}
      onSelectionChange={onSelectionChange}
      nodesDraggable={false}
      nodesConnectable={false}
      elementsSelectable
      onlyRenderVisibleElements={big}
      // A small tree fits the view; a big one opens on its root at a readable zoom (the minimap
      // and the fit-view button show the whole).
      fitView={!big}
      fitViewOptions={{ padding: 0.15, maxZoom: 1.2 }}
      onInit={(instance) => {
        if (!big) return
        const node = instance.getNode(focus)
        // Put the root near the top (or left) edge, so its children fill the rest of the view.
        const horizontal = node?.data.direction === 'LR'
        if (node) void instance.setCenter(node.position.x + (horizontal ? NODE_WIDTH * 1.6 : NODE_WIDTH / 2), node.position.y + (horizontal ? NODE_HEIGHT / 2 : NODE_HEIGHT * 2.5), { zoom: 0.85 })
      }}
      minZoom={0.02}
      maxZoom={2.5}
      colorMode="system"
      proOptions={{ hideAttribution: true }}
    >
      <Background gap={24} size={1} />
      <Controls showInteractive={false} />
      {minimap && <MiniMap pannable zoomable ariaLabel="Overview of the whole tree" nodeColor={minimapColor} nodeStrokeWidth={0} nodeBorderRadius={8} />}
    </ReactFlow>
  )
}
